#!/usr/bin/env python
"""Export a joint model as a stock MMDetection model (branch and text bank removed).

    python tools/export_stock_model.py JOINT_CONFIG JOINT_CHECKPOINT --out-dir exported/

writes ``exported/<config name>_stock.py`` (the joint config with each joint head
replaced by the stock head it extends, e.g. ContrastiveBBoxHead -> Shared2FCBBoxHead,
and this package's runtime hooks removed) and ``exported/<checkpoint name>_stock.pth``
(the weights without the contrastive branch; class names in ``meta.dataset_meta``).
The stock model predicts exactly what the joint model predicts with
``inference='stock'``, and loads in any tool that knows MMDetection (mmdeploy, ONNX
export, DetInferencer). A config that fuses at inference needs the branch and is
refused; so is a checkpoint with nothing to strip.
"""
import argparse
import os
import os.path as osp
import pickle
import sys

import torch
from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmclipjoint  # noqa: E402,F401
from mmclipjoint.utils import CheckpointDamagedError, load_checkpoint_file  # noqa: E402
from mmclipjoint.utils.export import stock_config, strip_checkpoint  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the joint config')
    parser.add_argument('checkpoint', help='a checkpoint of it (written by tools/train.py)')
    parser.add_argument('--out-dir', default='exported', help='where to write both files')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load CHECKPOINT fully even if it holds types that checkpoints '
                             'of this stack never hold: only for a file you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of the joint config, as in tools/train.py')
    args = parser.parse_args()

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        stock_cfg = stock_config(cfg, args.config)
        checkpoint = load_checkpoint_file(args.checkpoint, map_location='cpu',
                                          trusted=args.trust_checkpoint)
        stripped = strip_checkpoint(checkpoint, args.checkpoint)
    except (ValueError, KeyError, FileNotFoundError, pickle.UnpicklingError,
            CheckpointDamagedError) as error:
        sys.exit(f'export_stock_model: {error}')
    os.makedirs(args.out_dir, exist_ok=True)
    config_out = osp.join(args.out_dir, osp.splitext(osp.basename(args.config))[0] + '_stock.py')
    ckpt_out = osp.join(args.out_dir,
                        osp.splitext(osp.basename(args.checkpoint))[0] + '_stock.pth')
    stock_cfg.dump(config_out)
    torch.save(stripped, ckpt_out)
    print(f"{ckpt_out}: {len(stripped['state_dict'])} tensors "
          f"({stripped['meta']['stripped_keys']} of the contrastive branch removed), classes "
          f"{list(stripped['meta']['dataset_meta']['classes'])}")
    print(f'{config_out}: the stock config it loads into')


if __name__ == '__main__':
    main()
