# Stock Faster R-CNN R50-FPN on Pascal VOC 07+12, exactly as MMDetection ships it:
# the baseline of faster-rcnn_r50_fpn_clip-joint_1x_voc0712.py, which differs from
# it in roi_head.bbox_head only. Importing mmclipjoint adds nothing to the model;
# it lets mmengine load checkpoints under torch >= 2.6.
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)
