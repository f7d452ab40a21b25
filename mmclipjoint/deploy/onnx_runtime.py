"""Run an ONNX file written by ``tools/export_onnx.py`` with ONNX Runtime alone.

This module imports only numpy, OpenCV and onnxruntime (never torch, mmcv or mmdet), so
that it can be copied next to a model and used where only ONNX Runtime is installed;
``tools/onnx_demo.py`` loads it by file path for the same reason. It reproduces the
config's test preprocessing from the file's metadata (MMCV's ``Resize`` and ``Pad``
rules, then batch padding to ``pad_size_divisor``), runs the graph, and maps the boxes
back to each original image.
"""
import json
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

METADATA_KEY = 'mmclipjoint'


def read_metadata(session) -> Dict:
    """The export's metadata (class names, preprocessing, outputs) of a session."""
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ValueError(f'the ONNX file has no "{METADATA_KEY}" metadata: it was not '
                         f'written by tools/export_onnx.py; fix: export it with that tool')
    return json.loads(props[METADATA_KEY])


def rescale_size(width: int, height: int, scale: Sequence[int]) -> Tuple[int, int]:
    """MMCV's ``rescale_size`` for ``keep_ratio=True``: the longer edge at most
    ``max(scale)``, the shorter at most ``min(scale)``."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def apply_steps(image: np.ndarray, steps: List[Dict]) -> Tuple[np.ndarray, Tuple[float, float]]:
    """The test pipeline's Resize and Pad on one HxWx3 image; returns the image and its
    (x, y) scale factor."""
    factor = (1.0, 1.0)
    for step in steps:
        height, width = image.shape[:2]
        if step['type'] == 'Resize':
            if step.get('keep_ratio', False):
                size = rescale_size(width, height, step['scale'])
            else:
                size = tuple(int(v) for v in step['scale'])  # (w, h), as MMDetection's
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            factor = (factor[0] * size[0] / width, factor[1] * size[1] / height)
        elif step['type'] == 'Pad':
            value = step.get('pad_val', 0)
            value = value.get('img', 0) if isinstance(value, dict) else value
            if step.get('pad_to_square'):
                target = (max(height, width), ) * 2
            elif step.get('size'):
                target = (step['size'][1], step['size'][0])  # size is (w, h)
            else:
                divisor = step['size_divisor']
                target = (-(-height // divisor) * divisor, -(-width // divisor) * divisor)
            padded = np.full((target[0], target[1], 3), value, dtype=image.dtype)
            padded[:height, :width] = image
            image = padded
    return image, factor


class OnnxDetector:
    """An exported detector in ONNX Runtime: ``detector(images)`` takes BGR images
    (HxWx3 uint8, as ``cv2.imread`` reads them) and returns, per image, a dict of
    ``boxes`` (N, 4) xyxy in that image's pixels, ``scores`` (N,) and ``labels`` (N,)."""

    def __init__(self, path: str, providers: Sequence[str] = ('CPUExecutionProvider', ),
                 threads: int = 0):
        import onnxruntime as ort
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=list(providers))
        self.path = path
        self.meta = read_metadata(self.session)
        if self.meta['raw']:
            raise ValueError(f'{path} is a --raw export (no NMS); OnnxDetector needs the '
                             f'NMS outputs; fix: export again without --raw')
        self.classes = list(self.meta['classes'])

    def preprocess(self, images: Sequence[np.ndarray]) -> Tuple[np.ndarray, List[Dict]]:
        """The batch (B, 3, H, W) float32, padded at the bottom and right, and each
        image's (x, y) scale factor and original shape."""
        pre = self.meta['preprocess']
        done, infos = [], []
        for image in images:
            resized, factor = apply_steps(image, pre['steps'])
            done.append(resized)
            infos.append(dict(scale_factor=factor, ori_shape=image.shape[:2]))
        divisor = max(int(pre.get('pad_size_divisor', 1)), 1)
        height = -(-max(i.shape[0] for i in done) // divisor) * divisor
        width = -(-max(i.shape[1] for i in done) // divisor) * divisor
        batch = np.full((len(done), 3, height, width), pre.get('pad_value', 0), np.float32)
        for b, image in enumerate(done):
            batch[b, :, :image.shape[0], :image.shape[1]] = image.transpose(2, 0, 1)
        return batch, infos

    def run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        """The graph's outputs on a preprocessed batch, by name."""
        outputs = self.session.run(None, {'images': batch})
        return dict(zip(self.meta['outputs'], outputs))

    def __call__(self, images: Sequence[np.ndarray]) -> List[Dict[str, np.ndarray]]:
        batch, infos = self.preprocess(images)
        out = self.run(batch)
        results = []
        for b, info in enumerate(infos):
            count = int(out['num_dets'][b])
            sx, sy = info['scale_factor']
            boxes = out['boxes'][b, :count] / np.array([sx, sy, sx, sy], np.float32)
            if self.meta.get('clip_to_image', True):  # as the model's mmdet head does
                height, width = info['ori_shape']
                boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
                boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
            results.append(dict(boxes=boxes, scores=out['scores'][b, :count],
                                labels=out['labels'][b, :count]))
        return results


def palette(num_classes: int) -> List[Tuple[int, int, int]]:
    """One distinct BGR colour per class (evenly spaced hues)."""
    hsv = np.array([[[int(180 * i / max(num_classes, 1)), 200, 255]
                     for i in range(num_classes)]], np.uint8)
    return [tuple(int(v) for v in c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]]


def draw(image: np.ndarray, result: Dict[str, np.ndarray], classes: Sequence[str],
         score_thr: float = 0.3) -> np.ndarray:
    """The image (BGR) with every detection scoring at least ``score_thr``: its box and
    ``class: score`` above it, one colour per class."""
    canvas = image.copy()
    colours = palette(len(classes))
    thickness = max(1, round(min(image.shape[:2]) / 200))
    for box, score, label in zip(result['boxes'], result['scores'], result['labels']):
        if score < score_thr:
            continue
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        colour = colours[int(label) % len(colours)]
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        text = f'{classes[int(label)]}: {float(score):.2f}'
        scale = max(0.3, min(image.shape[:2]) / 600)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y1 - th - base, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + tw, top + th + base), colour, -1)
        cv2.putText(canvas, text, (x1, top + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                    1, cv2.LINE_AA)
    return canvas
