# YOLO11s on COCO 2017: ./yolo11_n_8xb16-600e_coco.py at scale s (depth 0.5, width 0.5).
_base_ = './yolo11_n_8xb16-600e_coco.py'

scale = 's'
model = dict(
    backbone=dict(scale=scale),
    neck=dict(scale=scale, in_channels=[256, 256, 512]),
    bbox_head=dict(in_channels=[128, 256, 512]))
