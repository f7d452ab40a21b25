"""Bad training data through the joint heads, with the real configs.

What MMDetection's own reader and pipeline handle (boxes of zero width or height, boxes
partly or wholly outside the image, grayscale and RGBA images, images without objects)
trains with finite losses in every family; what they do not (a class id that is not a
class, a NaN coordinate) stops ``tools/train.py`` before the first iteration with an error
naming the file, the image and the field.
"""
import json
import math
import os.path as osp

import pytest
from PIL import Image

from joint_testing import (JOINT_CONFIG, RTMDET_JOINT, TINY_RUN, YOLO11_JOINT, YOLOX_JOINT,
                           build_runner, run_tool, scalars)
from mmclipjoint.datasets import prepare_builtin_dataset
from mmclipjoint.datasets.checks import AnnotationError, check_coco_annotations

ANN = 'data/shapes/annotations/instances_train.json'
IMAGES = 'data/shapes/VOC2007/JPEGImages'


@pytest.fixture(scope='module')
def cwd(tmp_path_factory):
    """The tiny built-in dataset (8 training images), generated as the tools do."""
    from mmengine.config import Config
    folder = tmp_path_factory.mktemp('bad_data')
    cfg = Config.fromfile(JOINT_CONFIG)
    cfg.merge_from_dict(dict((o.split('=', 1)[0], eval(o.split('=', 1)[1], {}, {}))
                             for o in TINY_RUN if o.startswith('builtin_dataset')))
    cfg.builtin_dataset.root = osp.join(str(folder), 'data/shapes/')
    prepare_builtin_dataset(cfg, logger=lambda *_: None)
    return folder


def first_box(coco, image):
    return next(a for a in coco['annotations'] if a['image_id'] == image['id'])


def write_faulty_training_set(cwd, path):
    """One fault per training image (the eighth stays clean); returns what was done."""
    coco = json.load(open(cwd / ANN))
    images = coco['images']
    width = images[0]['width']
    first_box(coco, images[0])['bbox'][2] = 0  # zero width
    first_box(coco, images[1])['bbox'][3] = 0  # zero height
    first_box(coco, images[2])['bbox'][0] = width - 10  # partly outside (right edge)
    outside = dict(first_box(coco, images[3]), id=10_000, bbox=[width + 5, 5, 20, 20])
    coco['annotations'].append(outside)  # wholly outside, beside the image's own boxes
    gray = Image.open(cwd / IMAGES / images[4]['file_name']).convert('L')
    gray.save(cwd / IMAGES / 'gray.jpg')  # one channel
    images[4]['file_name'] = 'gray.jpg'
    rgba = Image.open(cwd / IMAGES / images[5]['file_name']).convert('RGBA')
    rgba.putalpha(128)
    rgba.save(cwd / IMAGES / 'rgba.png')  # four channels
    images[5]['file_name'] = 'rgba.png'
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] != images[6]['id']]
    json.dump(coco, open(path, 'w'))
    return coco


@pytest.mark.slow
@pytest.mark.parametrize('config', [JOINT_CONFIG, YOLOX_JOINT, RTMDET_JOINT, YOLO11_JOINT],
                         ids=['faster-rcnn', 'yolox', 'rtmdet', 'yolo11'])
def test_what_mmdetection_filters_trains_with_finite_losses(cwd, tmp_path, monkeypatch, config):
    ann_file = str(tmp_path / 'faulty.json')
    coco = write_faulty_training_set(cwd, ann_file)
    assert check_coco_annotations(ann_file) == len(coco['annotations'])  # nothing to stop for
    runner = build_runner(str(cwd), tmp_path, monkeypatch, config, **{
        'train_dataloader.dataset.ann_file': ann_file, 'train_cfg.max_epochs': 1,
        'train_dataloader.dataset.filter_cfg.filter_empty_gt': False,
        'train_dataloader.sampler.shuffle': False})
    runner.train()
    dataset = runner.train_dataloader.dataset
    assert len(dataset) == 8  # every image trained on, the one without objects too
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    boxes = {osp.basename(d['img_path']): [i['bbox'] for i in d['instances']] for d in infos}
    counts = {image['file_name']: sum(a['image_id'] == image['id'] for a in coco['annotations'])
              for image in coco['images']}
    names = [image['file_name'] for image in coco['images']]
    # MMDetection drops the degenerate and the wholly-outside boxes...
    assert len(boxes[names[0]]) == counts[names[0]] - 1
    assert len(boxes[names[1]]) == counts[names[1]] - 1
    assert len(boxes[names[3]]) == counts[names[3]] - 1
    assert boxes[names[6]] == []
    # ...keeps the partly-outside one (Resize clips it to the image).
    assert len(boxes[names[2]]) == counts[names[2]] and max(b[2] for b in boxes[names[2]]) > 96
    logged = [r for r in scalars(str(tmp_path / 'work')) if 'loss' in r]
    assert [r['iter'] for r in logged] == [1, 2, 3, 4]
    for record in logged:
        for key, value in record.items():
            if key.startswith('loss'):
                assert math.isfinite(value), (record['iter'], key, value)


@pytest.mark.slow
@pytest.mark.parametrize('fault, field, shown', [
    (lambda ann: ann.update(category_id=99), 'category_id',
     "is 99, which is not among the file's categories"),
    (lambda ann: ann['bbox'].__setitem__(1, float('nan')), 'bbox', 'is [')],
    ids=['class-id-out-of-range', 'nan-coordinate'])
def test_what_mmdetection_would_crash_on_or_drop_silently_stops_training_first(
        cwd, tmp_path, fault, field, shown):
    coco = json.load(open(cwd / ANN))
    image = coco['images'][2]
    ann = first_box(coco, image)
    fault(ann)
    ann_file = tmp_path / 'faulty.json'
    json.dump(coco, open(ann_file, 'w'))  # NaN is written as JSON's NaN literal
    with pytest.raises(AnnotationError):
        check_coco_annotations(str(ann_file))
    work_dir = tmp_path / 'work'
    code, out = run_tool('train.py', JOINT_CONFIG, '--work-dir', str(work_dir), '--cfg-options',
                         *TINY_RUN, f'train_dataloader.dataset.ann_file={ann_file}',
                         'train_cfg.max_epochs=1', cwd=str(cwd), check=False)
    assert code != 0
    assert (f"train.py: {ann_file}: annotation {ann['id']} of image {image['file_name']} "
            f"(image_id {image['id']}): field \"{field}\" {shown}") in out
    assert 'fix:' in out and 'Traceback' not in out
    assert not work_dir.exists()  # stopped before the Runner was built


def test_a_category_of_the_file_that_is_not_a_dataset_class_is_named(cwd, tmp_path):
    coco = json.load(open(cwd / ANN))
    coco['categories'].append(dict(id=99, name='ellipse'))
    first_box(coco, coco['images'][0])['category_id'] = 99
    ann_file = str(tmp_path / 'extra.json')
    json.dump(coco, open(ann_file, 'w'))
    classes = tuple(c['name'] for c in coco['categories'][:-1])
    with pytest.raises(AnnotationError, match=r"field \"category_id\" is 'ellipse' \(id 99\), "
                                              r"which is not among the dataset's classes"):
        check_coco_annotations(ann_file, classes)
    assert check_coco_annotations(ann_file) == len(coco['annotations'])  # all its categories
