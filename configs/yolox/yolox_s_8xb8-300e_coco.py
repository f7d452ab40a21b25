# Stock YOLOX-s on COCO 2017, as MMDetection ships it: the baseline of
# ../clip_joint/yolox_s_clip-joint_8xb8-300e_coco.py, which differs in bbox_head only.
_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)
