# The same grid contrastive branch on RTMDet-s (RTMDetSepBNHead), COCO 2017: the
# branch reads the input of rtm_cls on every level, positives from RTMDet's own
# dynamic soft label assignment. Differs from mmdet's rtmdet_s_8xb32-300e_coco.py
# in bbox_head only.
_base_ = ['mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py', '../_base_/clip_joint_runtime.py']

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        type='ContrastiveRTMDetHead',
        contrastive_branch=dict(
            type='GridContrastiveBranch',
            text_bank=dict(
                type='TextEmbeddingBank',
                class_names='coco',
                init='clip',
                clip=dict(model='ViT-B-32', pretrained='openai')),
            loss_contrastive=dict(
                type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5, aux_samples='all'),
            inference='stock')))

optim_wrapper = _base_.clip_joint_optim_wrapper
# The stock hooks (EMA, pipeline switch), then mmclipjoint's.
custom_hooks = _base_.custom_hooks + _base_.clip_joint_hooks
