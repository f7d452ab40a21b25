# The built-in "shapes" dataset (mmclipjoint.datasets.shapes), read through
# MMDetection's stock CocoDataset and evaluated with its stock CocoMetric: the pieces
# of shapes_parts.py put in place of coco_detection.py's COCO 2017 settings.
# tools/train.py and tools/test.py generate the data on first use from
# `builtin_dataset` (or: python tools/generate_dataset.py); later runs reuse it while
# the parameters match.
_base_ = ['mmdet::_base_/datasets/coco_detection.py', './shapes_parts.py']

data_root = {{_base_.shapes_data_root}}
metainfo = {{_base_.shapes_metainfo}}

train_dataloader = dict(batch_size=4, num_workers=2, dataset={{_base_.shapes_train_dataset}})
val_dataloader = dict(batch_size=4, num_workers=2, dataset={{_base_.shapes_val_dataset}})
# tools/test.py reports the held-out test split; validation chooses options.
test_dataloader = dict(batch_size=4, num_workers=2, dataset={{_base_.shapes_test_dataset}})
val_evaluator = {{_base_.shapes_evaluator}}
test_evaluator = {{_base_.shapes_test_evaluator}}
