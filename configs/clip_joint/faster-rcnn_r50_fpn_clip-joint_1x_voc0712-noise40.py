# The joint Faster R-CNN R50-FPN on VOC07+12 with 40% symmetric label noise: the same
# noisy training set as ../pascal_voc/faster-rcnn_r50_fpn_1x_voc0712-noise40.py.
_base_ = './faster-rcnn_r50_fpn_clip-joint_1x_voc0712.py'

train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            _delete_=True,
            type='NoisyLabelDataset',
            rate=0.40,
            mode='symmetric',
            seed=0,
            dataset=_base_.train_dataloader.dataset.dataset)))
