# The same grid contrastive branch on RTMDet-tiny (RTMDetSepBNHead), COCO 2017: the
# branch reads the input of rtm_cls on every level, positives from RTMDet's own
# dynamic soft label assignment. Differs from mmdet's rtmdet_tiny_8xb32-300e_coco.py
# in bbox_head only.
_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'

custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        type='ContrastiveRTMDetHead',
        text_bank=dict(
            type='TextEmbeddingBank',
            class_names='coco',
            init='clip',
            clip=dict(model='ViT-B-32', pretrained='openai')),
        loss_contrastive=dict(
            type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5, aux_samples='all'),
        inference='stock'))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'text_bank': dict(decay_mult=0.0)}))

# The stock config's hooks (a list is replaced, not merged), then mmclipjoint's.
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True,
         priority=49),
    dict(type='PipelineSwitchHook', switch_epoch=280,
         switch_pipeline={{_base_.train_pipeline_stage2}}),
    dict(type='JointTrainingCheckHook'),  # class names vs dataset; load_from report
    dict(type='LossGuardHook'),  # losses reduced over processes; stop on NaN/inf
    dict(type='RandomStateHook'),  # RNG state in checkpoints: exact resume
]
