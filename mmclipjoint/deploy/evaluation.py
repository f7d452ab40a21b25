"""COCO mAP of an exported ONNX model with MMDetection's own dataset and evaluator: the
images of a config's validation (or test) dataloader go through the ONNX Runtime
predictor (:class:`.onnx_runtime.OnnxDetector`, with its own preprocessing, as a
deployment runs it) and its detections into the config's ``val_evaluator``; with a
checkpoint, the PyTorch model's predictions on the same images too, and how many of
its top detections the ONNX model reproduces."""
from typing import Dict, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from .onnx_runtime import OnnxDetector


def matched_top_detections(expected: InstanceData, result: Dict[str, np.ndarray],
                           top: int = 20) -> int:
    """How many of PyTorch's ``top`` best detections have an ONNX detection of the same
    label, IoU > 0.999 and score within 1e-4 (matched one to one, best first)."""
    from mmdet.structures.bbox import bbox_overlaps
    count = min(top, len(expected.scores))
    if not count or not len(result['scores']):
        return 0
    ious = bbox_overlaps(expected.bboxes[:count].float(), torch.from_numpy(result['boxes']))
    labels = torch.from_numpy(result['labels'])
    scores = torch.from_numpy(result['scores'])
    free = torch.ones(len(scores), dtype=torch.bool)
    matched = 0
    for i in range(count):
        ok = free & (labels == expected.labels[i]) & (ious[i] > 0.999) & \
            ((scores - expected.scores[i]).abs() < 1e-4)
        if ok.any():
            free[int(ok.nonzero()[0])] = False
            matched += 1
    return matched


def evaluate_onnx(cfg: Config, model_path: str, split: str = 'val', batch_size: int = 1,
                  threads: int = 0, checkpoint: Optional[str] = None, top: int = 20) -> Dict:
    """The metrics of ``cfg``'s ``{split}_evaluator`` for the ONNX model's predictions on
    the ``{split}_dataloader``'s images; with ``checkpoint`` also ``pytorch`` (the same
    metrics of the PyTorch model, ``inference_detector`` per image) and ``top_matched``
    / ``top_compared`` (:func:`matched_top_detections` summed over the images)."""
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DATASETS

    from mmdet.utils import register_all_modules
    from ..datasets.shapes import prepare_builtin_dataset
    register_all_modules(init_default_scope=True)
    prepare_builtin_dataset(cfg, logger=lambda *_: None)
    detector = OnnxDetector(model_path, threads=threads)
    loader_cfg = cfg[f'{split}_dataloader']
    dataset = DATASETS.build(loader_cfg.dataset)
    if list(dataset.metainfo['classes']) != detector.classes:
        raise ValueError(f'{model_path} predicts {detector.classes} but the {split} dataset '
                         f"has {list(dataset.metainfo['classes'])}; fix: the config the "
                         f'model was exported from')
    evaluators = dict(onnx=Evaluator(cfg[f'{split}_evaluator']))
    model = None
    if checkpoint:
        from mmdet.apis import inference_detector, init_detector
        cfg = cfg.copy()
        cfg.test_pipeline = loader_cfg.dataset.pipeline
        model = init_detector(cfg, checkpoint, device='cpu')
        evaluators['pytorch'] = Evaluator(cfg[f'{split}_evaluator'])
    for evaluator in evaluators.values():
        evaluator.dataset_meta = dataset.metainfo
    matched = compared = 0
    for start in range(0, len(dataset), batch_size):
        infos = [dataset.get_data_info(i)
                 for i in range(start, min(start + batch_size, len(dataset)))]
        images = [cv2.imread(info['img_path']) for info in infos]
        samples = dict(onnx=[], pytorch=[])
        for info, image, result in zip(infos, images, detector(images)):
            shape = (info['height'], info['width'])
            pred = InstanceData(bboxes=torch.from_numpy(np.ascontiguousarray(result['boxes'])),
                                scores=torch.from_numpy(result['scores']),
                                labels=torch.from_numpy(result['labels'].astype(np.int64)))
            samples['onnx'].append(dict(img_id=info['img_id'], ori_shape=shape,
                                        pred_instances=pred))
            if model is not None:
                expected = inference_detector(model, image).pred_instances
                samples['pytorch'].append(dict(img_id=info['img_id'], ori_shape=shape,
                                               pred_instances=expected))
                matched += matched_top_detections(expected, result, top)
                compared += min(top, len(expected.scores))
        for name, evaluator in evaluators.items():
            evaluator.process(samples[name])
    metrics = evaluators['onnx'].evaluate(len(dataset))
    if model is not None:
        metrics['pytorch'] = evaluators['pytorch'].evaluate(len(dataset))
        metrics.update(top_matched=matched, top_compared=compared)
    return metrics
