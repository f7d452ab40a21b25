# The built-in "shapes" dataset in its Pascal VOC layout, read through MMDetection's
# stock VOCDataset and scored with VOCMetric (VOC 'area' AP at IoU 0.5). Same images
# and boxes as shapes_coco.py.
_base_ = './shapes_coco.py'

dataset_type = 'VOCDataset'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root={{_base_.shapes_data_root}},
        metainfo={{_base_.shapes_metainfo}},
        ann_file='VOC2007/ImageSets/Main/train.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8, bbox_min_size=8),
        pipeline={{_base_.shapes_train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root={{_base_.shapes_data_root}},
        metainfo={{_base_.shapes_metainfo}},
        ann_file='VOC2007/ImageSets/Main/val.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        test_mode=True,
        pipeline={{_base_.shapes_test_pipeline}}))
# tools/test.py reports the held-out test split; validation chooses options.
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root={{_base_.shapes_data_root}},
        metainfo={{_base_.shapes_metainfo}},
        ann_file='VOC2007/ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        test_mode=True,
        pipeline={{_base_.shapes_test_pipeline}}))
val_evaluator = dict(_delete_=True, type='VOCMetric', metric='mAP', eval_mode='area')
test_evaluator = val_evaluator
