#!/usr/bin/env python
"""Predict on images and draw the predictions (MMDetection's DetInferencer).

    python tools/image_demo.py IMAGE_OR_FOLDER CONFIG --weights CHECKPOINT --out-dir outputs
    python tools/image_demo.py ... --cfg-options model.bbox_head.contrastive_branch.inference=fused

Writes ``<out-dir>/vis/<image>`` (the picture) and ``<out-dir>/preds/<image>.json``. The
labels are the model's own classes, from the checkpoint's ``meta.dataset_meta``, or the
config's when the checkpoint has none (never COCO's by default). MMDetection's own
demo/image_demo.py is not shipped in its wheel; this is the same command line.
"""
import argparse
import os.path as osp
import pickle
import sys

from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmclipjoint  # noqa: E402,F401
from mmclipjoint.utils.checkpoint import CheckpointDamagedError  # noqa: E402
from mmclipjoint.utils.inference import build_inferencer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='the model config')
    parser.add_argument('--weights', required=True, help='the checkpoint')
    parser.add_argument('--out-dir', default='outputs', help='where to write vis/ and preds/')
    parser.add_argument('--device', default=None, help='e.g. cpu, cuda:0 (default: auto)')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='draw predictions scoring at least this')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load the checkpoint fully even if it holds types that '
                             'checkpoints of this stack never hold: only for a file you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, e.g. model.bbox_head.contrastive_branch.'
                             'inference=fused')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        inferencer = build_inferencer(cfg, args.weights, args.device,
                                      trust_checkpoint=args.trust_checkpoint)
    except (ValueError, FileNotFoundError, pickle.UnpicklingError,
            CheckpointDamagedError) as error:
        sys.exit(f'image_demo: {error}')
    inferencer(args.inputs, out_dir=args.out_dir, pred_score_thr=args.pred_score_thr,
               no_save_pred=False)
    print(f'predictions drawn in {osp.join(args.out_dir, "vis")}, '
          f'saved in {osp.join(args.out_dir, "preds")}')


if __name__ == '__main__':
    main()
