# Ablation of ./rtmdet_tiny_crops-pre_12e_shapes.py: the head as MMDetection builds it
# (SepBN, BatchNorm per level) instead of GroupNorm (docs/robustness_study.md,
# "RTMDet-tiny's collapse").
_base_ = './rtmdet_tiny_crops-pre_12e_shapes.py'

model = dict(bbox_head=dict(norm_cfg=dict(_delete_=True, type='SyncBN')))
