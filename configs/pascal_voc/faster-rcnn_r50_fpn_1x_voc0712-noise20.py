# Stock Faster R-CNN R50-FPN on VOC07+12 with 20% of the training labels flipped to a
# uniformly drawn other class (NoisyLabelDataset, seeded, every flip recorded beside the
# log). The wrapper sits inside RepeatDataset, so the three repeats share one set of
# flips; validation and test data are untouched.
_base_ = './faster-rcnn_r50_fpn_1x_voc0712.py'

train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            _delete_=True,
            type='NoisyLabelDataset',
            rate=0.20,
            mode='symmetric',
            seed=0,
            dataset=_base_.train_dataloader.dataset.dataset)))
