#!/usr/bin/env python
"""Export a detector (joint or stock) to ONNX with NMS in the graph, for ONNX Runtime.

    python tools/export_onnx.py CONFIG CHECKPOINT --out model.onnx
    python tools/export_onnx.py CONFIG CHECKPOINT --out raw.onnx --raw     # one-stage: no NMS
    python tools/export_onnx.py ... --cfg-options model.bbox_head.contrastive_branch.inference=fused

Input ``images``: float32 (B, 3, H, W), BGR pixel values 0-255, resized and padded as the
file's metadata says (dynamic batch and size; normalisation is in the graph). Outputs
``num_dets`` (B,), ``boxes`` (B, K, 4) xyxy, ``scores`` (B, K), ``labels`` (B, K); with
``--raw`` the decoded boxes and class scores of every prior before NMS (YOLO11: one
``(B, 4 + C, A)`` output, Ultralytics' layout). Standard ONNX ops only (opset 16). Class
names, the preprocessing and the outputs are in the file's metadata (key ``mmclipjoint``).
A joint model exports as its config predicts: ``inference='fused'`` puts the contrastive
branch and the text embeddings in the graph. See docs/deployment.md.
"""
import argparse
import os.path as osp
import pickle
import sys

from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmclipjoint  # noqa: E402,F401
from mmclipjoint.deploy.onnx_export import export_onnx  # noqa: E402
from mmclipjoint.utils.checkpoint import CheckpointDamagedError  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the model config (joint or stock)')
    parser.add_argument('checkpoint', help='a checkpoint of it (written by tools/train.py)')
    parser.add_argument('--out', required=True, help='the ONNX file to write (*.onnx)')
    parser.add_argument('--raw', action='store_true',
                        help='one-stage detectors: decoded predictions of every prior, no NMS')
    parser.add_argument('--keep-top-k', type=int, default=300,
                        help='most detections per image where the test_cfg sets no '
                             'max_per_img (default 300)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load CHECKPOINT fully even if it holds types that checkpoints '
                             'of this stack never hold: only for a file you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, e.g. model.bbox_head.contrastive_branch.'
                             'inference=fused')
    args = parser.parse_args()
    if not args.out.endswith('.onnx'):
        sys.exit(f'export_onnx: --out {args.out}: the file name must end with .onnx')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        meta = export_onnx(cfg, args.checkpoint, args.out, raw=args.raw,
                           keep_top_k=args.keep_top_k, trust_checkpoint=args.trust_checkpoint,
                           config_name=args.config)
    except (ValueError, KeyError, FileNotFoundError, pickle.UnpicklingError,
            CheckpointDamagedError) as error:
        sys.exit(f'export_onnx: {error}')
    print(f"{args.out}: {meta['family']} detector, inference {'/'.join(meta['inference'])}, "
          f"outputs {meta['outputs']}, classes {meta['classes']}")


if __name__ == '__main__':
    main()
