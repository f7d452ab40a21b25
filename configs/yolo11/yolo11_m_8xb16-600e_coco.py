# YOLO11m on COCO 2017: ./yolo11_n_8xb16-600e_coco.py at scale m (depth 0.5, width 1.0,
# channels capped at 512, C3k blocks in every C3k2).
_base_ = './yolo11_n_8xb16-600e_coco.py'

scale = 'm'
model = dict(
    backbone=dict(scale=scale),
    neck=dict(scale=scale, in_channels=[512, 512, 512]),
    bbox_head=dict(in_channels=[256, 512, 512]))
