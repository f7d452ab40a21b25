# ImageNet-style pretraining of a detector's backbone on the built-in world: mmpretrain's
# ImageClassifier with the detector's own backbone (taken from MMDetection's registry,
# type='mmdet.<Backbone>') classifies the ten shapes of the pretraining split's object
# crops (64 px, BGR as MMDetection loads images; the held-out tenth of the scenes is the
# validation split). Each family's config (../*_shapes-crops_cls.py) sets the backbone
# exactly as its detector builds it, the head's input width and the data preprocessor of
# its detector (mean, std, channel order), so that the weights meet the pixels they were
# trained on. tools/train_builtin_backbone.py runs it and exports the backbone.
custom_imports = dict(
    imports=['mmpretrain.models', 'mmdet.models', 'mmclipjoint.models',
             'mmclipjoint.pretraining.backbones'],
    allow_failed_imports=False)
default_scope = 'mmpretrain'

pretraining_data_root = 'data/pretraining/'
max_epochs = 10  # 99 iterations an epoch; each family sets what fits in 10 min on 2 cores
model = dict(
    type='ImageClassifier',
    # the family's detector preprocessor, as a ClsDataPreprocessor (to_rgb = bgr_to_rgb)
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=10),
    backbone=dict(),  # the family's detector backbone, type='mmdet.<name>'
    # GlobalAveragePooling pools each output level; the head reads the last
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=None,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )))

train_dataloader = dict(
    batch_size=128, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='PretrainingCrops', data_root=pretraining_data_root, split='train',
                 pipeline=[dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                           dict(type='PackInputs')]))
val_dataloader = dict(
    batch_size=256, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PretrainingCrops', data_root=pretraining_data_root, split='val',
                 pipeline=[dict(type='PackInputs')]))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()

# ImageNet's ResNet recipe (SGD, nesterov, cosine), at a batch and length for 2 cores
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork'),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=True)
log_level = 'INFO'
randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
