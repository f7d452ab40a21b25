"""Checks of training annotations that MMDetection's own readers do not make.

MMDetection's ``CocoDataset`` already filters what it can read but should not train on:
boxes under 1 px wide or high, boxes wholly outside their image, images without objects
(``filter_empty_gt``); boxes partly outside are clipped by ``Resize``. Two faults of an
annotation file get through it badly, and are checked here before training starts:

* a ``category_id`` that is not among the dataset's classes stops the reader with a bare
  ``KeyError: 7`` that names neither the file nor the image;
* a box with a non-finite coordinate (``NaN`` or ``Infinity``, which Python's JSON reader
  accepts) is dropped without a word by the reader's overlap test (``max(0, nan)`` is 0),
  so a corrupt file trains on silently.
"""
import math
import os.path as osp
from typing import Iterator, Optional, Sequence

from mmengine.fileio import load


class AnnotationError(ValueError):
    """An annotation file holds something training must not start with."""


def check_coco_annotations(ann_file: str, classes: Optional[Sequence[str]] = None) -> int:
    """Check a COCO-format annotation file; the number of annotations checked.

    Args:
        ann_file: the file (``instances_*.json``).
        classes: the classes the dataset reads (its ``metainfo.classes``); every
            annotation's category must be one of them. ``None``: the file's categories.

    Raises:
        AnnotationError: naming the file, the image (file name and id), the annotation id,
            the field and the fix.
    """
    content = load(ann_file)
    images = {image['id']: image for image in content.get('images', [])}
    categories = {c['id']: c['name'] for c in content.get('categories', [])}
    readable = {cid for cid, name in categories.items()
                if classes is None or name in set(classes)}
    for ann in content.get('annotations', []):
        image = images.get(ann.get('image_id'))
        where = (f"{ann_file}: annotation {ann.get('id')} of image "
                 f"{image['file_name'] if image else '?'} (image_id {ann.get('image_id')})")
        if image is None:
            raise AnnotationError(f'{where}: field "image_id" names no entry of "images"; fix: '
                                  f'add the image or remove the annotation')
        if ann.get('ignore', False) or ann.get('iscrowd', 0):
            continue  # MMDetection reads these as ignored regions, not as training boxes
        bbox = ann.get('bbox')
        if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4 and all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in bbox)):
            raise AnnotationError(
                f'{where}: field "bbox" is {bbox!r}; a box is four finite numbers [x, y, width, '
                f'height] (MMDetection would drop this one without a word); fix: correct the '
                f'box or remove the annotation')
        category = ann.get('category_id')
        if category not in readable:
            known = (f"'{categories[category]}' (id {category}), which is not among the "
                     f'dataset\'s classes {list(classes)}' if category in categories else
                     f'{category!r}, which is not among the file\'s categories '
                     f'{sorted(categories)}')
            raise AnnotationError(
                f'{where}: field "category_id" is {known}; fix: correct the annotation, add '
                f'the category, or remove the annotation')
    return len(content.get('annotations', []))


def coco_datasets(dataset_cfg: dict, data_root: str = '') -> Iterator[tuple]:
    """``(annotation file, classes)`` of every COCO-format dataset in a dataset config,
    looking through wrappers (``dataset`` / ``datasets`` fields: RepeatDataset,
    ConcatDataset, MultiImageMixDataset, this package's noise wrappers...)."""
    if not isinstance(dataset_cfg, dict):
        return
    inner = dataset_cfg.get('dataset')
    if isinstance(inner, dict):
        yield from coco_datasets(inner)
    for child in dataset_cfg.get('datasets') or []:
        yield from coco_datasets(child)
    ann_file = dataset_cfg.get('ann_file')
    if isinstance(ann_file, str) and ann_file.endswith('.json'):
        root = dataset_cfg.get('data_root') or data_root or ''
        classes = (dataset_cfg.get('metainfo') or {}).get('classes')
        yield osp.join(root, ann_file), (tuple(classes) if classes else None)


def check_training_annotations(cfg) -> None:
    """:func:`check_coco_annotations` on every COCO-format dataset of the config's
    ``train_dataloader``."""
    for ann_file, classes in coco_datasets(cfg.get('train_dataloader', {}).get('dataset', {})):
        if osp.isfile(ann_file):  # a missing file is MMDetection's own clear error
            check_coco_annotations(ann_file, classes)
