# The joint Faster R-CNN R50-FPN on VOC07+12 with 40% symmetric label noise: the 20%
# config with another rate (the same noisy set as the stock *-noise40 config).
_base_ = './faster-rcnn_r50_fpn_clip-joint_1x_voc0712-noise20.py'

train_dataloader = dict(dataset=dict(dataset=dict(rate=0.4)))
