"""NoisyLabelDataset, LongTailDataset, BoxNoiseDataset on MMDetection's own datasets: the
counts asked for, every change recorded, the same seed the same changes, test data
refused, and samples served through the wrapped dataset's pipeline."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config

from joint_testing import REPO
from mmclipjoint.datasets import SHAPES_CLASSES, ShapesParams, generate_shapes_dataset
from mmdet.registry import DATASETS

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs')]


@pytest.fixture(scope='module')
def clean_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('wrapped') / 'shapes')
    generate_shapes_dataset(root, ShapesParams(image_size=64, num_train=60, num_val=4,
                                               num_test=4, seed=7), logger=lambda *_: None)
    return root


def coco(root, split='train', **kwargs):
    return dict(type='CocoDataset', data_root=root, ann_file=f'annotations/instances_{split}.json',
                data_prefix=dict(img='VOC2007/JPEGImages/'), metainfo=dict(classes=SHAPES_CLASSES),
                pipeline=PIPELINE, **kwargs)


def voc(root, split='train', **kwargs):
    return dict(type='VOCDataset', data_root=root, ann_file=f'VOC2007/ImageSets/Main/{split}.txt',
                data_prefix=dict(sub_data_root='VOC2007/'), metainfo=dict(classes=SHAPES_CLASSES),
                pipeline=PIPELINE, **kwargs)


def labels(dataset):
    return [[i['bbox_label'] for i in dataset.get_data_info(k)['instances']]
            for k in range(len(dataset))]


@pytest.mark.parametrize('reader', [coco, voc], ids=['coco', 'voc'])
def test_symmetric_noise_flips_the_asked_share_to_other_classes(clean_root, tmp_path, reader):
    clean = DATASETS.build(reader(clean_root))
    record = tmp_path / 'flips.json'
    noisy = DATASETS.build(dict(type='NoisyLabelDataset', dataset=reader(clean_root), rate=0.3,
                                seed=1, record_file=str(record)))
    before, after = labels(clean), labels(noisy)
    total = sum(len(b) for b in before)
    changed = [(k, j) for k, (b, a) in enumerate(zip(before, after))
               for j, (x, y) in enumerate(zip(b, a)) if x != y]
    assert len(changed) == round(0.3 * total) > 0
    saved = json.load(open(record))
    assert saved['num_boxes'] == total and len(saved['flips']) == len(changed)
    assert [(f['index'], f['instance']) for f in saved['flips']] == changed
    for flip in saved['flips']:
        assert flip['label'] != flip['noisy_label']
        assert SHAPES_CLASSES[after[flip['index']][flip['instance']]] == flip['noisy_label']
    # The same seed flips the same boxes; another seed others.
    again = DATASETS.build(dict(type='NoisyLabelDataset', dataset=reader(clean_root), rate=0.3,
                                seed=1, record_file=str(tmp_path / 'again.json')))
    assert labels(again) == after
    other = DATASETS.build(dict(type='NoisyLabelDataset', dataset=reader(clean_root), rate=0.3,
                                seed=2, record_file=str(tmp_path / 'other.json')))
    assert labels(other) != after
    # Boxes and images are untouched; samples go through the wrapped dataset's pipeline.
    assert [i['bbox'] for i in noisy.get_data_info(0)['instances']] == \
        [i['bbox'] for i in clean.get_data_info(0)['instances']]
    k = changed[0][0]
    sample = noisy[k]
    assert sample['data_samples'].gt_instances.labels.tolist() == after[k]
    assert noisy.metainfo['classes'] == SHAPES_CLASSES and len(noisy) == len(clean)


def test_pair_noise_flips_to_the_fixed_confusable_class(clean_root, tmp_path):
    pairs = {'circle': 'hexagon', 'hexagon': 'circle', 'square': 'cross', 'cross': 'square',
             'triangle': 'star', 'star': 'triangle'}
    DATASETS.build(dict(type='NoisyLabelDataset', dataset=coco(clean_root), rate=0.5,
                        mode='pair', pairs=pairs, record_file=str(tmp_path / 'p.json')))
    flips = json.load(open(tmp_path / 'p.json'))['flips']
    assert flips and all(pairs[f['label']] == f['noisy_label'] for f in flips)
    with pytest.raises(ValueError, match=r"names classes the dataset does not have: \['dog'\]"):
        DATASETS.build(dict(type='NoisyLabelDataset', dataset=coco(clean_root), rate=0.1,
                            mode='pair', pairs={'circle': 'dog'}))


def test_a_concat_dataset_as_voc0712_is_wrapped_whole(clean_root, tmp_path):
    # As mmdet's VOC07+12 config joins VOC2007 and VOC2012.
    concat = dict(type='ConcatDataset', datasets=[voc(clean_root), voc(clean_root)],
                  ignore_keys=['dataset_type'])
    noisy = DATASETS.build(dict(type='NoisyLabelDataset', dataset=concat, rate=0.2,
                                record_file=str(tmp_path / 'c.json')))
    assert len(noisy) == 120
    flips = json.load(open(tmp_path / 'c.json'))['flips']
    late = next(f for f in flips if f['index'] >= 60)  # an image of the second part
    sample = noisy[late['index']]
    assert SHAPES_CLASSES[sample['data_samples'].gt_instances.labels[late['instance']]] == \
        late['noisy_label']


def test_long_tail_caps_the_classes_geometrically(clean_root, tmp_path):
    clean = DATASETS.build(coco(clean_root))
    wrapped = DATASETS.build(dict(type='LongTailDataset', dataset=coco(clean_root), ratio=4.0,
                                  seed=0, record_file=str(tmp_path / 'lt.json')))
    record = json.load(open(tmp_path / 'lt.json'))
    counts = np.bincount([label for image in labels(wrapped) for label in image],
                         minlength=6)
    assert sum(record['boxes_before'].values()) == sum(map(len, labels(clean)))
    caps = np.array([record['caps'][c] for c in SHAPES_CLASSES])
    assert (counts == [record['boxes_after'][c] for c in SHAPES_CLASSES]).all()
    assert (counts <= caps).all() and len(wrapped) < len(clean)
    # The caps are the geometric long tail from the most frequent class's count: the
    # class of rank r may keep floor(n_0 * 4 ** (-r / 5)) boxes.
    head = max(record['boxes_before'].values())
    np.testing.assert_array_equal(np.sort(caps)[::-1],
                                  np.floor(head * 4.0 ** (-np.arange(6) / 5)))
    assert counts.max() / max(counts.min(), 1) >= 2.0  # a real long tail remains
    # Kept images are served with their own, unchanged annotations.
    kept = record['kept_indices']
    assert labels(wrapped)[0] == labels(clean)[kept[0]]
    assert wrapped[0]['data_samples'].img_path == clean.get_data_info(kept[0])['img_path']


def test_box_noise_moves_boxes_within_gamma_and_keeps_labels(clean_root, tmp_path):
    clean = DATASETS.build(coco(clean_root))
    noisy = DATASETS.build(dict(type='BoxNoiseDataset', dataset=coco(clean_root), gamma=0.1,
                                record_file=str(tmp_path / 'b.json')))
    assert labels(noisy) == labels(clean)
    moved = 0
    for k in range(len(clean)):
        for a, b in zip(clean.get_data_info(k)['instances'], noisy.get_data_info(k)['instances']):
            (x1, y1, x2, y2), (u1, v1, u2, v2) = a['bbox'], b['bbox']
            w, h = x2 - x1, y2 - y1
            # centre moves <= 0.1 w and half a size change <= 0.05 w: each side <= 0.15 w
            assert abs(u1 - x1) <= 0.15 * w + 1e-6 and abs(v2 - y2) <= 0.15 * h + 1e-6
            assert 0 <= u1 <= u2 <= 64 and 0 <= v1 <= v2 <= 64
            moved += (u1, v1, u2, v2) != (x1, y1, x2, y2)
    assert moved == json.load(open(tmp_path / 'b.json'))['num_boxes'] > 0


@pytest.mark.parametrize('wrapper', [dict(type='NoisyLabelDataset', rate=0.2),
                                     dict(type='LongTailDataset', ratio=3.0),
                                     dict(type='BoxNoiseDataset', gamma=0.1)],
                         ids=['noise', 'long-tail', 'box-noise'])
def test_validation_and_test_data_are_never_wrapped(clean_root, wrapper):
    for split in ('val', 'test'):
        for dataset in (coco(clean_root, split, test_mode=True),
                        dict(type='ConcatDataset',
                             datasets=[voc(clean_root, split, test_mode=True)])):
            with pytest.raises(ValueError, match=rf"{wrapper['type']} wraps a dataset in "
                                                 r'test_mode: .*fix: use .* in '
                                                 r'train_dataloader.dataset only'):
                DATASETS.build(dict(wrapper, dataset=dataset))


@pytest.mark.parametrize('config, rate', [
    ('configs/pascal_voc/faster-rcnn_r50_fpn_1x_voc0712-noise20.py', 0.2),
    ('configs/clip_joint/faster-rcnn_r50_fpn_clip-joint_1x_voc0712-noise40.py', 0.4)])
def test_voc0712_noise_configs_flip_the_joint_training_set_once(
        clean_root, tmp_path, config, rate):
    """The real configs' training set, RepeatDataset(NoisyLabelDataset(ConcatDataset(
    VOC2007, VOC2012))), built by mmdet's builders on a VOC layout of generated images."""
    root = tmp_path / 'VOCdevkit'
    for year in ('VOC2007', 'VOC2012'):
        shutil.copytree(osp.join(clean_root, 'VOC2007'), root / year)
        shutil.copy(root / year / 'ImageSets/Main/train.txt',
                    root / year / 'ImageSets/Main/trainval.txt')
    cfg = Config.fromfile(osp.join(REPO, config))
    assert cfg.val_dataloader.dataset.type == cfg.test_dataloader.dataset.type == 'VOCDataset'
    train = cfg.train_dataloader.dataset
    train.dataset.record_file = str(tmp_path / 'flips.json')
    for part in train.dataset.dataset.datasets:  # this data's classes and small boxes
        part.update(data_root=f'{root}/', metainfo=dict(classes=SHAPES_CLASSES),
                    filter_cfg=dict(min_size=8, bbox_min_size=4))
    dataset = DATASETS.build(train)
    assert (type(dataset).__name__, type(dataset.dataset).__name__) == \
        ('RepeatDataset', 'NoisyLabelDataset')
    assert len(dataset) == 3 * 2 * 60
    record = json.load(open(tmp_path / 'flips.json'))
    assert len(record['flips']) == round(rate * record['num_boxes']) > 0
    assert any(f['index'] >= 60 for f in record['flips'])  # VOC2012's part too
    # The repeats share the flips: the same image, the same (noisy) labels.
    flip = record['flips'][0]
    for repeat in range(3):
        info = dataset.get_data_info(repeat * 120 + flip['index'])
        assert SHAPES_CLASSES[info['instances'][flip['instance']]['bbox_label']] == \
            flip['noisy_label']
    assert dataset[len(dataset) - 1]['inputs'].shape[0] == 3  # through the VOC pipeline


def test_wrappers_stack_label_noise_on_a_long_tail(clean_root, tmp_path):
    long_tail = dict(type='LongTailDataset', dataset=coco(clean_root), ratio=4.0,
                     record_file=str(tmp_path / 'lt.json'))
    stacked = DATASETS.build(dict(type='NoisyLabelDataset', dataset=long_tail, rate=0.5,
                                  record_file=str(tmp_path / 'flips.json')))
    kept = json.load(open(tmp_path / 'lt.json'))['kept_indices']
    flips = json.load(open(tmp_path / 'flips.json'))
    assert len(stacked) == len(kept)
    assert flips['num_boxes'] == sum(json.load(open(tmp_path / 'lt.json'))['boxes_after']
                                     .values())
    flip = flips['flips'][0]
    sample = stacked[flip['index']]  # the long tail's image, the noise's label
    assert sample['data_samples'].img_path == flip['img_path']
    assert SHAPES_CLASSES[sample['data_samples'].gt_instances.labels[flip['instance']]] == \
        flip['noisy_label']
