"""Label noise, long tail and box noise for any MMDetection training dataset.

Each wrapper takes a detection dataset (``CocoDataset``, ``VOCDataset``, or mmengine's
``ConcatDataset`` of them, as VOC07+12 is) and changes its *training* annotations
once, seeded, before any pipeline runs: the same seed gives the same changes in every
epoch and every run. Every change is counted in the log and recorded in a JSON file.
Validation and test data are never changed: wrapping a dataset in ``test_mode`` is an
error. Put a wrapper inside ``RepeatDataset`` (around what it repeats), so that the
repeats share one set of changes.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import ConcatDataset, RepeatDataset
from mmengine.logging import MMLogger, print_log

from mmdet.registry import DATASETS
from ..utils.upstream import concat_source_index, repeat_source_index
from .label_noise import choose_flips, geometric_tail, other_classes, pair_targets


def _in_test_mode(dataset) -> bool:
    if getattr(dataset, 'test_mode', False):
        return True
    children = getattr(dataset, 'datasets', None) or [getattr(dataset, 'dataset', None)]
    return any(child is not None and _in_test_mode(child) for child in children)


def _leaf(dataset, index: int):
    """The dataset that owns sample ``index`` (and its pipeline), and its index there,
    through mmengine's ConcatDataset / RepeatDataset and these wrappers themselves (so
    that they stack, e.g. label noise on a long tail)."""
    while isinstance(dataset, (ConcatDataset, RepeatDataset, TrainingAnnotationWrapper)):
        if isinstance(dataset, ConcatDataset):
            part, index = concat_source_index(dataset, index)
            dataset = dataset.datasets[part]
        elif isinstance(dataset, RepeatDataset):
            index = repeat_source_index(dataset, index)
            dataset = dataset.dataset
        else:
            index = dataset._source_index(index)
            dataset = dataset.dataset
    return dataset, index


class TrainingAnnotationWrapper:
    """Base of the wrappers: builds the wrapped dataset, refuses test data, serves
    ``get_data_info`` / ``__getitem__`` with the changed annotations, and writes the
    record. A subclass computes its changes in :meth:`compute_changes`.

    Args:
        dataset (dict | Dataset): the training dataset (or its config).
        seed (int): seed of the changes.
        record_file (str, optional): where the JSON record of the changes goes; default
            beside the current log file (the run's work dir), else the working directory.
        max_refetch (int): as mmengine's ``BaseDataset``: other samples tried when the
            pipeline drops one.
    """

    record_name = 'changes'

    def __init__(self, dataset: Union[dict, object], seed: int = 0,
                 record_file: Optional[str] = None, max_refetch: int = 1000):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        name = type(self).__name__
        if _in_test_mode(self.dataset):
            raise ValueError(
                f'{name} wraps a dataset in test_mode: validation and test data are never '
                f'changed; fix: use {name} in train_dataloader.dataset only')
        self.seed = seed
        self.record_file = record_file
        self.max_refetch = max_refetch
        self._changed: Dict[int, List[dict]] = {}  # index -> its new instance list
        self._indices: Optional[List[int]] = None  # the kept samples (subsampling wrappers)
        self._initialized = False
        self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    @property
    def classes(self) -> Sequence[str]:
        metainfo = self.dataset.metainfo
        if isinstance(metainfo, list):  # mmdet's ConcatDataset of unlike datasets
            raise ValueError(f'{type(self).__name__}: the wrapped ConcatDataset joins datasets '
                             f'whose metainfo differs, so their classes are ambiguous; fix: '
                             f"give them the same metainfo (ignore_keys=['dataset_type'] as "
                             f'VOC07+12 does)')
        return metainfo['classes']

    def full_init(self) -> None:
        if self._initialized:
            return
        self.dataset.full_init()
        infos = [self.dataset.get_data_info(i) for i in range(len(self.dataset))]
        record = self.compute_changes(infos, np.random.default_rng(self.seed))
        self._write_record(record)
        self._initialized = True

    def compute_changes(self, infos: List[dict], rng: np.random.Generator) -> dict:
        """Fill ``self._changed`` (and ``self._indices``); return the record (with a
        one-line ``summary`` for the log)."""
        raise NotImplementedError

    def _write_record(self, record: dict) -> None:
        path = self.record_file
        if path is None:
            log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
            folder = osp.dirname(log_file) if log_file else os.getcwd()
            path = osp.join(folder, f'{type(self).__name__}_{self.record_name}.json')
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(dict(record, wrapper=type(self).__name__, seed=self.seed), f, indent=1)
        self.record_path = path
        print_log(f'{type(self).__name__}: {record["summary"]}; recorded in {path}',
                  logger='current')

    def _source_index(self, index: int) -> int:
        return index if self._indices is None else self._indices[index]

    def __len__(self) -> int:
        return len(self.dataset) if self._indices is None else len(self._indices)

    def get_data_info(self, index: int) -> dict:
        source = self._source_index(index)
        info = copy.deepcopy(self.dataset.get_data_info(source))
        if source in self._changed:
            info['instances'] = copy.deepcopy(self._changed[source])
        return info

    def __getitem__(self, index: int):
        for _ in range(self.max_refetch + 1):
            leaf, _ = _leaf(self, index)
            data = leaf.pipeline(self.get_data_info(index))
            if data is not None:
                return data
            index = np.random.randint(0, len(self))
        raise RuntimeError(f'{type(self).__name__}: the pipeline dropped {self.max_refetch} '
                           f'samples in a row; check the pipeline and the annotations')


@DATASETS.register_module()
class NoisyLabelDataset(TrainingAnnotationWrapper):
    """Flips the class of ``round(rate * N)`` of the N training boxes (boxes marked
    ignore are left alone), chosen at random.

    Args:
        rate (float): fraction of the boxes flipped.
        mode (str): ``'symmetric'``: to a uniformly drawn *other* class;
            ``'pair'``: class i to one fixed confusable class, ``pairs[i]``.
        pairs (dict, optional): for ``'pair'``, class name -> the class it is flipped
            to; default each class to the next one in the class list (the last to the
            first).
        **kwargs: :class:`TrainingAnnotationWrapper`'s arguments.
    """

    record_name = 'flips'

    def __init__(self, dataset, rate: float, mode: str = 'symmetric',
                 pairs: Optional[Dict[str, str]] = None, **kwargs):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f'NoisyLabelDataset.rate is a fraction in [0, 1], got {rate}')
        if mode not in ('symmetric', 'pair'):
            raise ValueError(f"NoisyLabelDataset.mode must be 'symmetric' or 'pair', got "
                             f"'{mode}'")
        self.rate, self.mode, self.pairs = rate, mode, pairs
        super().__init__(dataset, **kwargs)

    def compute_changes(self, infos, rng):
        boxes = [(index, j, inst['bbox_label']) for index, info in enumerate(infos)
                 for j, inst in enumerate(info['instances']) if not inst.get('ignore_flag', 0)]
        num_classes = len(self.classes)
        chosen = choose_flips(len(boxes), self.rate, rng)
        num_flips = len(chosen)
        if self.mode == 'symmetric':
            new_labels = [int(label) for label in other_classes(
                [boxes[k][2] for k in chosen], num_classes, rng)]
        else:
            targets = pair_targets(self.classes, self.pairs, 'NoisyLabelDataset.pairs')
            new_labels = [int(targets[boxes[k][2]]) for k in chosen]
        flips = []
        for k, label in zip(chosen, new_labels):
            index, j, old = boxes[k]
            instances = self._changed.setdefault(index, copy.deepcopy(infos[index]['instances']))
            instances[j]['bbox_label'] = label
            flips.append(dict(index=int(index), img_path=infos[index].get('img_path'),
                              instance=int(j), label=self.classes[old],
                              noisy_label=self.classes[label]))
        return dict(summary=f'flipped {num_flips} of {len(boxes)} training labels '
                            f'({self.mode}, rate {self.rate:g}, seed {self.seed})',
                    rate=self.rate, mode=self.mode, num_boxes=len(boxes), flips=flips)


@DATASETS.register_module()
class LongTailDataset(TrainingAnnotationWrapper):
    """Subsamples training images to a geometric long tail of the boxes per class.

    Classes are ranked by their box count (most frequent first); class of rank r may
    keep at most ``n_0 * ratio ** (-r / (C - 1))`` boxes, ``n_0`` being the most
    frequent class's count. Images are visited in a seeded random order and kept while
    every class in them stays within its cap, so the rarest classes reach their caps
    as closely as the images allow; images without boxes are kept.

    Args:
        ratio (float): most / least frequent class after subsampling (>= 1).
        **kwargs: :class:`TrainingAnnotationWrapper`'s arguments.
    """

    record_name = 'long_tail'

    def __init__(self, dataset, ratio: float, **kwargs):
        if ratio < 1.0:
            raise ValueError(f'LongTailDataset.ratio is most / least frequent class, so it '
                             f'must be >= 1, got {ratio}')
        self.ratio = ratio
        super().__init__(dataset, **kwargs)

    def compute_changes(self, infos, rng):
        num_classes = len(self.classes)
        per_image = np.zeros((len(infos), num_classes), np.int64)
        for index, info in enumerate(infos):
            for inst in info['instances']:
                if not inst.get('ignore_flag', 0):
                    per_image[index, inst['bbox_label']] += 1
        before = per_image.sum(0)
        rank = np.empty(num_classes, np.int64)
        rank[np.argsort(-before, kind='stable')] = np.arange(num_classes)
        caps = np.floor(before.max() * geometric_tail(rank, num_classes, self.ratio))
        kept, counts = [], np.zeros(num_classes, np.int64)
        for index in rng.permutation(len(infos)):
            if (counts + per_image[index] <= caps).all():
                kept.append(int(index))
                counts += per_image[index]
        self._indices = sorted(kept)
        return dict(summary=f'kept {len(kept)} of {len(infos)} training images for a '
                            f'{self.ratio:g}:1 long tail; boxes per class '
                            f'{dict(zip(self.classes, counts.tolist()))}',
                    ratio=self.ratio, caps=dict(zip(self.classes, caps.astype(int).tolist())),
                    boxes_before=dict(zip(self.classes, before.tolist())),
                    boxes_after=dict(zip(self.classes, counts.tolist())),
                    kept_indices=self._indices)


@DATASETS.register_module()
class BoxNoiseDataset(TrainingAnnotationWrapper):
    """Jitters every training box: centre and size each moved by a fraction drawn
    uniformly from [-gamma, gamma] of the box's width (x) and height (y), then clipped
    to the image.

    Args:
        gamma (float): the largest jitter, as a fraction of the box size.
        **kwargs: :class:`TrainingAnnotationWrapper`'s arguments.
    """

    record_name = 'box_noise'

    def __init__(self, dataset, gamma: float, **kwargs):
        if gamma < 0:
            raise ValueError(f'BoxNoiseDataset.gamma must be >= 0, got {gamma}')
        self.gamma = gamma
        super().__init__(dataset, **kwargs)

    def compute_changes(self, infos, rng):
        moved = 0
        for index, info in enumerate(infos):
            instances = copy.deepcopy(info['instances'])
            for inst in instances:
                if inst.get('ignore_flag', 0):
                    continue
                x1, y1, x2, y2 = inst['bbox']
                w, h = x2 - x1, y2 - y1
                dx, dy, dw, dh = rng.uniform(-self.gamma, self.gamma, 4)
                cx, cy = (x1 + x2) / 2 + dx * w, (y1 + y2) / 2 + dy * h
                w, h = w * (1 + dw), h * (1 + dh)
                width, height = info.get('width', np.inf), info.get('height', np.inf)
                inst['bbox'] = [float(np.clip(cx - w / 2, 0, width)),
                                float(np.clip(cy - h / 2, 0, height)),
                                float(np.clip(cx + w / 2, 0, width)),
                                float(np.clip(cy + h / 2, 0, height))]
                moved += 1
            if instances:
                self._changed[index] = instances
        return dict(summary=f'jittered {moved} training boxes (gamma {self.gamma:g}, seed '
                            f'{self.seed})', gamma=self.gamma, num_boxes=moved)
