# Stock Faster R-CNN R50-FPN on VOC07+12 with 40% of the training labels flipped to a
# uniformly drawn other class: the 20% config with another rate.
_base_ = './faster-rcnn_r50_fpn_1x_voc0712-noise20.py'

train_dataloader = dict(dataset=dict(dataset=dict(rate=0.4)))
