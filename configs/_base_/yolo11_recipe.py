# YOLO11 as Ultralytics trains it, without data: the model (scale n; the configs of
# other scales set backbone.scale, neck.scale and the widths), the optimizer and the
# schedule. configs/yolo11/*_coco.py add COCO, the *_shapes.py configs the built-in
# dataset. A config that changes batch_size_per_gpu repeats it in
# optim_wrapper.paramwise_cfg (mmengine resolves variables in each file).
scale = 'n'
batch_size_per_gpu = 16

model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
        bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='YOLO11Backbone', scale=scale),
    neck=dict(type='YOLO11PAFPN', scale=scale, in_channels=[128, 128, 256]),
    bbox_head=dict(
        type='YOLO11Head',
        num_classes=80,
        in_channels=[64, 128, 256],
        strides=[8, 16, 32],
        reg_max=16,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.5),
        loss_bbox=dict(type='YOLOCIoULoss', loss_weight=7.5),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=1.5)),
    train_cfg=dict(
        assigner=dict(type='BatchTaskAlignedAssigner', topk=10, alpha=0.5, beta=6.0)),
    test_cfg=dict(
        nms_pre=30000, score_thr=0.001, nms=dict(type='nms', iou_threshold=0.7),
        max_per_img=300))

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='GroupedOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.937, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, nominal_batch_size=64,
                       batch_size_per_gpu=batch_size_per_gpu),
    clip_grad=dict(max_norm=10.0))
param_scheduler = []  # YOLOLRScheduleHook sets the learning rate and momentum
yolo11_schedule_hook = dict(type='YOLOLRScheduleHook',  # decays over train_cfg.max_epochs
                            final_lr_ratio=0.01, warmup_epochs=3, warmup_bias_lr=0.1,
                            warmup_momentum=0.8)
yolo11_ema_hook = dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, gamma=2000,
                       update_buffers=True, priority=49)
# The model's weights, hence its feature maps, channels-last: the same computation, faster
# (mmclipjoint.engine.ChannelsLastHook; YOLO11n on a CPU: training 0.94, inference 0.85).
yolo11_channels_last_hook = dict(type='ChannelsLastHook')
