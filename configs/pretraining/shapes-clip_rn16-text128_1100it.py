# The built-in CLIP: the open_clip model config `mmclipjoint-shapes-clip` (a ModifiedResNet
# image tower of width 16 at 64 px, a 2-layer text transformer of width 128 with
# open_clip's tokenizer, 512-d embeddings) trained from scratch with open_clip's ClipLoss
# on captioned object crops of the pretraining split (mmclipjoint/datasets/pretraining.py).
# Built by tools/train_builtin_clip.py (9.7 minutes on 2 CPU cores), which also
# exports the open_clip weights and measures zero-shot accuracy on the test split.
custom_imports = dict(imports=['mmclipjoint', 'mmclipjoint.pretraining'],
                      allow_failed_imports=False)
default_scope = 'mmdet'

pretraining_data_root = 'data/pretraining/'
num_iters = 1100
batch_size = 128  # distinct attribute combinations per batch (of 320)

model = dict(type='OpenClipModel', model_name='mmclipjoint-shapes-clip')
train_dataloader = dict(
    batch_size=batch_size,
    # Items are drawn in the main process: a worker competes with the two compute threads
    # for 2 cores (0.54 s an iteration against 0.47). The stream is the same either way
    # (every item is seeded by its index).
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),  # the dataset is the stream
    dataset=dict(
        type='CaptionedObjects',
        data_root=pretraining_data_root,
        num_iters=num_iters,
        batch_size=batch_size,
        caption_drop=0.5,
        seed=0))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=num_iters)
# CLIP's optimiser: AdamW, betas (0.9, 0.98), eps 1e-6, weight decay 0.1 except on
# gains, biases, embeddings and the temperature.
# GroupedOptimWrapperConstructor: the same rules in a few groups (multi-tensor AdamW steps).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='GroupedOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'logit_scale': dict(decay_mult=0.0),
            'embedding': dict(decay_mult=0.0),
            'class_embedding': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=num_iters, T_max=num_iters - 50)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork'),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False)
log_level = 'INFO'
randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
