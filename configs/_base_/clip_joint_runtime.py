# Runtime pieces every mmclipjoint training config shares, written once. Every name
# starts with `clip_joint_`, so this file sits beside any stock config in a `_base_`
# list without clashing; a config takes them with mmengine's Python syntax:
#   custom_hooks = _base_.custom_hooks + _base_.clip_joint_hooks  # keeps the stock hooks
#   optim_wrapper = _base_.clip_joint_optim_wrapper  # merged into the stock optim_wrapper

# mmclipjoint's runtime safety hooks (mmclipjoint/engine/hooks.py).
clip_joint_hooks = [
    dict(type='JointTrainingCheckHook'),  # class names vs dataset; load_from report
    dict(type='LossGuardHook'),  # losses reduced over processes; stop on NaN/inf
    dict(type='RandomStateHook'),  # RNG state in checkpoints: exact resume
]
# No weight decay on the text embeddings and temperatures (as in CLIP); merged into
# the stock config's own paramwise_cfg (YOLOX's and RTMDet's norm/bias rules stay).
clip_joint_paramwise_cfg = dict(custom_keys={'text_bank': dict(decay_mult=0.0)})
# The same rules built as a handful of optimizer groups (GroupedOptimWrapperConstructor,
# mmclipjoint/engine/optimizers.py) instead of mmengine's one group per parameter, which
# keeps PyTorch's multi-tensor optimizer steps on GPU; the updates are the same (on CPU
# bit for bit, tests/engine/test_optimizers.py).
clip_joint_optim_wrapper = dict(constructor='GroupedOptimWrapperConstructor',
                                paramwise_cfg=clip_joint_paramwise_cfg)
# The grid branch of the one-stage COCO joint configs: the 80 COCO class names encoded by
# CLIP ViT-B/32, then learned; per-class temperatures; a background embedding.
clip_joint_coco_grid_branch = dict(
    type='GridContrastiveBranch',
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
    inference='stock')
