#!/usr/bin/env python
"""Predict on images with an exported ONNX model and ONNX Runtime alone (no torch, mmcv
or mmdet needed: numpy, OpenCV and onnxruntime).

    python tools/onnx_demo.py IMAGE_OR_FOLDER model.onnx --out-dir outputs

Writes ``<out-dir>/vis/<image>`` (boxes with ``class: score`` drawn) and
``<out-dir>/preds/<image>.json`` (``labels``, ``scores``, ``bboxes`` xyxy in the image's
pixels, as tools/image_demo.py writes them). Class names come from the ONNX file's
metadata. The predictor is ``mmclipjoint/deploy/onnx_runtime.py``, a single file that
can be copied next to a model.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys

import cv2

# Loaded by path, not as ``mmclipjoint.deploy.onnx_runtime``: importing the package would
# import torch and MMDetection, which this demo must not need.
_PATH = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'mmclipjoint', 'deploy',
                 'onnx_runtime.py')
_SPEC = importlib.util.spec_from_file_location('onnx_runtime', _PATH)
onnx_runtime = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(onnx_runtime)

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('model', help='an ONNX file written by tools/export_onnx.py')
    parser.add_argument('--out-dir', default='outputs', help='where to write vis/ and preds/')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='draw predictions scoring at least this')
    parser.add_argument('--batch-size', type=int, default=1)
    args = parser.parse_args()
    if osp.isdir(args.inputs):
        paths = sorted(osp.join(args.inputs, f) for f in os.listdir(args.inputs)
                       if f.lower().endswith(IMAGE_SUFFIXES))
    else:
        paths = [args.inputs]
    if not paths:
        sys.exit(f'onnx_demo: no images ({", ".join(IMAGE_SUFFIXES)}) in {args.inputs}')
    try:
        detector = onnx_runtime.OnnxDetector(args.model)
    except ValueError as error:
        sys.exit(f'onnx_demo: {args.model}: {error}')
    for sub in ('vis', 'preds'):
        os.makedirs(osp.join(args.out_dir, sub), exist_ok=True)
    for start in range(0, len(paths), args.batch_size):
        chunk = paths[start:start + args.batch_size]
        images = []
        for path in chunk:
            image = cv2.imread(path)
            if image is None:
                sys.exit(f'onnx_demo: {path}: not an image OpenCV can read')
            images.append(image)
        for path, image, result in zip(chunk, images, detector(images)):
            name = osp.basename(path)
            cv2.imwrite(osp.join(args.out_dir, 'vis', name),
                        onnx_runtime.draw(image, result, detector.classes, args.pred_score_thr))
            with open(osp.join(args.out_dir, 'preds', osp.splitext(name)[0] + '.json'),
                      'w') as f:
                json.dump(dict(labels=result['labels'].tolist(),
                               scores=result['scores'].tolist(),
                               bboxes=result['boxes'].tolist()), f)
    print(f'{len(paths)} images: predictions drawn in {osp.join(args.out_dir, "vis")}, '
          f'saved in {osp.join(args.out_dir, "preds")}')


if __name__ == '__main__':
    main()
