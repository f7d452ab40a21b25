# CLIP-Joint-Detect on Faster R-CNN R50-FPN, COCO 2017: the stock
# mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py with the contrastive bbox head.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', '../_base_/clip_joint_runtime.py']

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='ContrastiveBBoxHead',
            contrastive_branch=dict(
                type='RegionContrastiveBranch',
                hidden_channels=1024,
                text_bank=dict(
                    type='TextEmbeddingBank',
                    class_names='coco',
                    init='clip',
                    clip=dict(model='ViT-B-32', pretrained='openai')),
                loss_contrastive=dict(
                    type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5)))))

optim_wrapper = _base_.clip_joint_optim_wrapper
custom_hooks = _base_.clip_joint_hooks
