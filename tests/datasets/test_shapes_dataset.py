"""The built-in dataset: both layouts load with MMDetection's own readers, the knobs
produce the counts asked for, and generation is deterministic and reused."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from pycocotools.coco import COCO

from joint_testing import BASELINE_CONFIG, REPO, TINY
from mmclipjoint.datasets import (SHAPES_CLASSES, ShapesParams, dataset_fingerprint,
                                  generate_shapes_dataset, long_tail_counts,
                                  prepare_builtin_dataset)
from mmdet.datasets import CocoDataset, VOCDataset


def test_coco_layout_loads_with_pycocotools_and_cocodataset(tiny_shapes):
    root, params, meta = tiny_shapes
    coco = COCO(osp.join(root, 'annotations/instances_train.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(SHAPES_CLASSES)
    assert len(coco.getImgIds()) == params.num_train
    assert len(coco.getAnnIds()) == meta['train']['num_boxes']

    dataset = CocoDataset(
        data_root=root, ann_file='annotations/instances_val.json',
        data_prefix=dict(img='VOC2007/JPEGImages/'), metainfo=dict(classes=SHAPES_CLASSES),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                  dict(type='PackDetInputs')])
    assert len(dataset) == params.num_val
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, params.image_size, params.image_size)
    boxes = sample['data_samples'].gt_instances.bboxes.tensor
    assert len(boxes) >= params.min_objects
    assert (boxes[:, 2:] > boxes[:, :2]).all() and (boxes >= 0).all()
    assert (boxes <= params.image_size).all()


def test_voc_layout_loads_with_vocdataset_and_matches_coco(tiny_shapes):
    root, params, _ = tiny_shapes
    voc = VOCDataset(data_root=root, ann_file='VOC2007/ImageSets/Main/train.txt',
                     data_prefix=dict(sub_data_root='VOC2007/'),
                     metainfo=dict(classes=SHAPES_CLASSES), pipeline=[])
    coco = CocoDataset(data_root=root, ann_file='annotations/instances_train.json',
                       data_prefix=dict(img='VOC2007/JPEGImages/'),
                       metainfo=dict(classes=SHAPES_CLASSES), pipeline=[])
    assert len(voc) == len(coco) == params.num_train
    assert voc.metainfo['dataset_type'] == 'VOC2007'
    coco_by_path = {info['img_path']: info for info in coco.data_list}
    for info in voc.data_list:
        other = coco_by_path[info['img_path']]
        assert [i['bbox_label'] for i in info['instances']] == \
            [i['bbox_label'] for i in other['instances']]
        np.testing.assert_allclose([i['bbox'] for i in info['instances']],
                                   [i['bbox'] for i in other['instances']])


def test_long_tail_counts_follow_the_ratio():
    counts = long_tail_counts(1000, 6, 10.0)
    assert counts.sum() == 1000
    assert (np.diff(counts) <= 0).all()
    assert counts[0] / counts[-1] == pytest.approx(10.0, rel=0.02)
    np.testing.assert_array_equal(long_tail_counts(600, 6, 1.0), [100] * 6)


def test_imbalance_and_noise_knobs_give_the_counts_asked_for(tiny_shapes):
    root, params, meta = tiny_shapes
    train, val = meta['train'], meta['val']
    true_counts = np.array(train['true_class_counts'])
    np.testing.assert_array_equal(true_counts,
                                  long_tail_counts(train['num_boxes'], 6, 4.0))
    assert true_counts[0] / true_counts[-1] == pytest.approx(4.0, abs=4.0 / true_counts[-1] + 0.05)
    # Validation and the held-out test split are balanced (within one box) and clean.
    for held_out in (val, meta['test']):
        assert max(held_out['true_class_counts']) - min(held_out['true_class_counts']) <= 1
        assert held_out['flipped_annotation_ids'] == []
        assert held_out['label_class_counts'] == held_out['true_class_counts']
    assert meta['test']['num_images'] == params.num_test

    # Exactly round(noise * N) training labels differ from what the images show,
    # and every listed flip really is a different class in the annotation file.
    num_flips = round(params.label_noise * train['num_boxes'])
    assert len(train['flipped_annotation_ids']) == num_flips
    anns = {a['id']: a for a in json.load(open(osp.join(root, 'annotations/instances_train.json')))
            ['annotations']}
    clean_root = root + '-clean'
    generate_shapes_dataset(clean_root, ShapesParams(**TINY, imbalance_ratio=4.0, seed=3))
    clean = {a['id']: a for a in json.load(open(osp.join(
        clean_root, 'annotations/instances_train.json')))['annotations']}
    changed = sorted(i for i in anns if anns[i]['category_id'] != clean[i]['category_id'])
    assert changed == train['flipped_annotation_ids']
    assert all(anns[i]['bbox'] == clean[i]['bbox'] for i in anns)  # only labels change
    for ann_id, true_name in zip(train['flipped_annotation_ids'], train['flipped_true_labels']):
        assert SHAPES_CLASSES[clean[ann_id]['category_id'] - 1] == true_name
    # Validation and test files are identical with and without noise.
    for split_file in ('annotations/instances_val.json', 'VOC2007/ImageSets/Main/val.txt',
                       'annotations/instances_test.json', 'VOC2007/ImageSets/Main/test.txt'):
        assert open(osp.join(root, split_file)).read() == \
            open(osp.join(clean_root, split_file)).read()


def test_test_split_is_its_own_and_leaves_train_and_val_unchanged(tmp_path):
    small, large = (generate_shapes_dataset(str(tmp_path / name), ShapesParams(
        image_size=64, num_train=4, num_val=2, num_test=num_test, seed=5))
        for name, num_test in (('small', 2), ('large', 5)))
    for split in ('train', 'val'):  # a split's bytes do not depend on the others' sizes
        for name in ([f'annotations/instances_{split}.json']
                     + [f'VOC2007/JPEGImages/{split}_{i:05d}.jpg' for i in range(2)]):
            assert open(tmp_path / 'small' / name, 'rb').read() == \
                open(tmp_path / 'large' / name, 'rb').read()
    test = json.load(open(tmp_path / 'large' / 'annotations/instances_test.json'))
    assert [i['file_name'] for i in test['images']] == [f'test_{i:05d}.jpg' for i in range(5)]
    val = json.load(open(tmp_path / 'large' / 'annotations/instances_val.json'))
    assert open(tmp_path / 'large' / 'VOC2007/JPEGImages/test_00000.jpg', 'rb').read() != \
        open(tmp_path / 'large' / 'VOC2007/JPEGImages/val_00000.jpg', 'rb').read()
    assert len(val['images']) == 2 and large['test']['num_images'] == 5


def test_same_seed_same_files_and_reuse(tmp_path):
    params = ShapesParams(image_size=64, num_train=6, num_val=3, num_test=2, seed=11)
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    generate_shapes_dataset(a, params)
    generate_shapes_dataset(b, params)
    assert dataset_fingerprint(a) == dataset_fingerprint(b)
    generate_shapes_dataset(str(tmp_path / 'c'), ShapesParams(image_size=64, num_train=6,
                                                              num_val=3, num_test=2, seed=12))
    assert dataset_fingerprint(str(tmp_path / 'c')) != dataset_fingerprint(a)

    # Matching parameters: nothing is rewritten. Other parameters: regenerated in place.
    stamp = os.stat(osp.join(a, 'meta.json')).st_mtime_ns
    generate_shapes_dataset(a, params)
    assert os.stat(osp.join(a, 'meta.json')).st_mtime_ns == stamp
    meta = generate_shapes_dataset(a, ShapesParams(image_size=64, num_train=5, num_val=3,
                                                   num_test=2, seed=11))
    assert meta['train']['num_images'] == 5
    assert len(os.listdir(osp.join(a, 'VOC2007/JPEGImages'))) == 5 + 3 + 2
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.shapes-')]


LOOK_ALIKE = {'circle': 'hexagon', 'hexagon': 'circle', 'square': 'cross', 'cross': 'square',
              'triangle': 'star', 'star': 'triangle'}


def test_pair_flip_noise_sends_each_flipped_label_to_its_pair(tmp_path):
    params = dict(image_size=64, num_train=30, num_val=2, num_test=2, seed=4, label_noise=0.3)
    pair = generate_shapes_dataset(str(tmp_path / 'pair'),
                                   ShapesParams(**params, label_noise_pairs=LOOK_ALIKE))
    symmetric = generate_shapes_dataset(str(tmp_path / 'sym'), ShapesParams(**params))
    assert pair['params']['label_noise_pairs'] == LOOK_ALIKE
    assert 'label_noise_pairs' not in symmetric['params']  # as before the field existed
    train = pair['train']
    assert len(train['flipped_annotation_ids']) == round(0.3 * train['num_boxes'])
    anns = {a['id']: a for a in json.load(open(
        tmp_path / 'pair' / 'annotations/instances_train.json'))['annotations']}
    noisy = [SHAPES_CLASSES[anns[i]['category_id'] - 1] for i in train['flipped_annotation_ids']]
    assert noisy == [LOOK_ALIKE[t] for t in train['flipped_true_labels']]
    # the same boxes are chosen; symmetric noise sends some elsewhere than the pair
    assert train['flipped_annotation_ids'] == symmetric['train']['flipped_annotation_ids']
    sym_anns = {a['id']: a for a in json.load(open(
        tmp_path / 'sym' / 'annotations/instances_train.json'))['annotations']}
    assert any(SHAPES_CLASSES[sym_anns[i]['category_id'] - 1] != LOOK_ALIKE[t] for i, t in
               zip(train['flipped_annotation_ids'], train['flipped_true_labels']))
    # the study's data folder of an older version (no field in meta.json) stays current
    stamp = os.stat(tmp_path / 'sym' / 'meta.json').st_mtime_ns
    generate_shapes_dataset(str(tmp_path / 'sym'), ShapesParams(**params))
    assert os.stat(tmp_path / 'sym' / 'meta.json').st_mtime_ns == stamp


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match=r"label_noise_pairs names classes .*\['dog'\]"):
        ShapesParams(label_noise_pairs={'circle': 'dog'})
    with pytest.raises(ValueError, match=r"label_noise_pairs must map every class.*'star'"):
        ShapesParams(label_noise_pairs={k: v for k, v in LOOK_ALIKE.items() if k != 'star'})
    with pytest.raises(ValueError, match='imbalance_ratio'):
        ShapesParams(imbalance_ratio=0.5)
    with pytest.raises(ValueError, match='label_noise'):
        ShapesParams(label_noise=1.5)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['noise'\]"):
        ShapesParams.from_dict(dict(noise=0.1))


def test_config_classes_match_generator_and_are_checked(tmp_path):
    cfg = Config.fromfile(BASELINE_CONFIG)
    assert tuple(cfg.metainfo['classes']) == SHAPES_CLASSES
    assert cfg.model.roi_head.bbox_head.num_classes == len(SHAPES_CLASSES)
    cfg.builtin_dataset.update(root=str(tmp_path / 'd'), image_size=64, num_train=2, num_val=1,
                               num_test=1)
    prepare_builtin_dataset(cfg)
    assert osp.isfile(tmp_path / 'd' / 'meta.json')
    cfg.val_dataloader.dataset.metainfo = dict(classes=SHAPES_CLASSES[::-1])
    with pytest.raises(ValueError, match=r'val_dataloader.dataset.metainfo.classes in the '
                                         r'config .* fix: set metainfo'):
        prepare_builtin_dataset(cfg)


@pytest.mark.parametrize('layout', ['shapes_coco', 'shapes_voc'])
def test_dataset_configs_build_with_mmdets_datasets_and_metrics(tiny_shapes, layout):
    from mmdet.registry import DATASETS, METRICS
    root = tiny_shapes[0]
    cfg = Config.fromfile(osp.join(REPO, f'configs/_base_/datasets/{layout}.py'))
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'val'),
                          (cfg.test_dataloader, 'test')):
        dataset = DATASETS.build(dict(loader.dataset, data_root=root))
        assert len(dataset) == dict(train=40, val=8, test=6)[split]  # TINY's split sizes
        assert all(f'/{split}_' in info['img_path'] for info in dataset.data_list)
        assert type(dataset).__name__ == ('VOCDataset' if layout == 'shapes_voc'
                                          else 'CocoDataset')
        assert dataset.metainfo['classes'] == SHAPES_CLASSES
        sample = dataset[0]
        assert sample['inputs'].shape[1:] == (160, 160)  # the configs' image scale
    for split in ('val', 'test'):
        evaluator = dict(cfg[f'{split}_evaluator'])
        if 'ann_file' in evaluator:  # CocoMetric reads the annotations when it is built
            assert evaluator['ann_file'].endswith(f'instances_{split}.json')
            evaluator['ann_file'] = osp.join(root, f'annotations/instances_{split}.json')
        metric = METRICS.build(evaluator)
        assert type(metric).__name__ == ('VOCMetric' if layout == 'shapes_voc' else 'CocoMetric')


@pytest.mark.slow
def test_generate_tool_flags_win_over_the_config(tmp_path):
    from joint_testing import run_tool
    out = run_tool('generate_dataset.py', '--config', BASELINE_CONFIG, '--root',
                   str(tmp_path / 'mine'), '--num-train', '3', '--num-val', '1', '--num-test', '1',
                   '--image-size', '64', cwd=str(tmp_path))
    meta = json.load(open(tmp_path / 'mine' / 'meta.json'))
    assert meta['params']['num_train'] == 3 and meta['params']['image_size'] == 64
    # The config's other parameters are kept, and its own root is left alone.
    cfg = Config.fromfile(BASELINE_CONFIG)
    assert meta['params']['label_noise'] == cfg.builtin_dataset.label_noise
    assert not (tmp_path / 'data').exists()
    assert 'train: 3 images' in out
