# CLIP-Joint-Detect on YOLOX-tiny, COCO 2017: the stock YOLOXHead plus the grid
# contrastive branch on its classification features, positives from its own SimOTA
# assignment; 80 COCO class names encoded by CLIP ViT-B/32, then learned.
_base_ = '../yolox/yolox_tiny_8xb8-300e_coco.py'

model = dict(
    bbox_head=dict(
        type='ContrastiveYOLOHead',
        text_bank=dict(
            type='TextEmbeddingBank',
            class_names='coco',
            embed_dims=512,
            init='clip',
            clip=dict(model='ViT-B-32', pretrained='openai', templates=['a photo of a {}.']),
            temperature=dict(mode='per_class', init=0.07, max_logit_scale=100.0),
            background=True),
        loss_contrastive=dict(
            type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5, aux_samples='all'),
        inference='stock'))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'text_bank': dict(decay_mult=0.0)}))

# The stock config's hooks (a list is replaced, not merged), then mmclipjoint's.
custom_hooks = [
    dict(type='YOLOXModeSwitchHook', num_last_epochs=15, priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         priority=49),
    dict(type='JointTrainingCheckHook'),  # class names vs dataset; load_from report
    dict(type='LossGuardHook'),  # losses reduced over processes; stop on NaN/inf
    dict(type='RandomStateHook'),  # RNG state in checkpoints: exact resume
]
