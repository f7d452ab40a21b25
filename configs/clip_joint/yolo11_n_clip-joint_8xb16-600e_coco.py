# CLIP-Joint-Detect on YOLO11n, COCO 2017 (the paper's one-stage setting): the YOLO11
# head plus the grid contrastive branch on its class-branch features, positives from its
# own task-aligned assignment; 80 COCO class names encoded by CLIP ViT-B/32, then
# learned. Differs from ../yolo11/yolo11_n_8xb16-600e_coco.py in bbox_head only.
_base_ = ['../yolo11/yolo11_n_8xb16-600e_coco.py', '../_base_/clip_joint_runtime.py']

model = dict(
    bbox_head=dict(type='ContrastiveYOLOHead',
                   contrastive_branch=_base_.clip_joint_coco_grid_branch))

# The stock optimizer groups, plus the text bank without weight decay.
optim_wrapper = _base_.clip_joint_optim_wrapper
# The stock hooks (schedule, EMA, pipeline switch), then mmclipjoint's.
custom_hooks = _base_.custom_hooks + _base_.clip_joint_hooks
