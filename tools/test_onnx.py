#!/usr/bin/env python
"""COCO mAP of an exported ONNX model on a config's validation (or test) split, with
MMDetection's dataset and evaluator and ONNX Runtime for the predictions.

    python tools/test_onnx.py CONFIG model.onnx [--split val|test] [--batch-size 1]
    python tools/test_onnx.py CONFIG model.onnx --checkpoint CHECKPOINT   # and PyTorch's

The built-in dataset is generated first when the config asks for it. Compare with
``python tools/test.py CONFIG CHECKPOINT`` (PyTorch) on the same split, or give
``--checkpoint``: the PyTorch model then predicts the same images in the same run, both
mAPs are printed, and how many of PyTorch's top-20 detections per image the ONNX model
reproduces (same label, IoU > 0.999, score within 1e-4).
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmclipjoint  # noqa: E402,F401
from mmclipjoint.deploy.evaluation import evaluate_onnx  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the config the model was exported from')
    parser.add_argument('model', help='the ONNX file (tools/export_onnx.py)')
    parser.add_argument('--split', choices=('val', 'test'), default='val')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--checkpoint', help='also evaluate the PyTorch model (the '
                        'checkpoint the ONNX file was exported from) and compare')
    parser.add_argument('--out', help='write the metrics here (JSON)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides (the dataset, e.g. builtin_dataset.*)')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        metrics = evaluate_onnx(cfg, args.model, args.split, args.batch_size,
                                checkpoint=args.checkpoint)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f'test_onnx: {error}')
    print(json.dumps(metrics, indent=1))
    if args.checkpoint:
        print(f"{args.split} mAP: ONNX Runtime {metrics['coco/bbox_mAP']:.4f}, PyTorch "
              f"{metrics['pytorch']['coco/bbox_mAP']:.4f}; top-20 detections reproduced: "
              f"{metrics['top_matched']} of {metrics['top_compared']}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(metrics, f, indent=1)


if __name__ == '__main__':
    main()
