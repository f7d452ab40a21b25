"""The main job: train detectors on the built-in dataset and print their COCO mAP.

    python tools/demo.py                       # the default configs below
    python tools/demo.py CONFIG [CONFIG ...]   # any configs, side by side

Each config is trained with mmengine's Runner exactly as tools/train.py would (work
dirs under work_dirs/demo/), validated once at the end of training, and its COCO-style
bbox metrics are printed in one table.
"""
import argparse
import os.path as osp
import time

from mmengine.config import Config
from mmengine.runner import Runner

import mmclipjoint  # noqa: F401
from mmclipjoint.datasets import prepare_builtin_dataset
from mmclipjoint.pretraining.artifacts import prepare_builtin_weights

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The stock baseline and the joint model: same data, same schedule, same detector with
# the same pretrained backbone, the joint one with the contrastive branch added to its
# bbox head and its class embeddings from the built-in CLIP (the method as published).
DEFAULT_CONFIGS = [osp.join(ROOT, 'configs', path) for path in (
    'faster_rcnn/faster-rcnn_r18-slim-crops-pre_fpn_8e_shapes.py',
    'clip_joint/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint_8e_shapes.py')]
METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')


def train_and_evaluate(config: str, work_root: str) -> dict:
    cfg = Config.fromfile(config)
    name = osp.splitext(osp.basename(config))[0]
    cfg.work_dir = osp.join(work_root, name)
    prepare_builtin_dataset(cfg)
    prepare_builtin_weights(cfg)
    runner = Runner.from_cfg(cfg)
    start = time.time()
    runner.train()
    # RuntimeInfoHook stores the metrics of the last validation under 'val/...'.
    scalars = runner.message_hub.log_scalars
    metrics = {key.split('/')[-1]: buf.current() for key, buf in scalars.items()
               if key.startswith('val/coco/')}
    if not metrics:  # the config did not validate at the end of training
        metrics = {k.split('/')[-1]: v for k, v in runner.test().items()}
    metrics['minutes'] = (time.time() - start) / 60
    return dict(name=name, metrics=metrics, work_dir=cfg.work_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS)
    parser.add_argument('--work-root', default='work_dirs/demo')
    args = parser.parse_args()
    results = [train_and_evaluate(config, args.work_root) for config in args.configs]
    width = max(len(r['name']) for r in results)
    print('\nCOCO-style bbox metrics on the built-in shapes validation split')
    print(f'{"config":<{width}}  ' + '  '.join(f'{m:>11}' for m in METRICS) + '  train min')
    for r in results:
        print(f'{r["name"]:<{width}}  '
              + '  '.join(f'{r["metrics"].get(m, float("nan")):>11.3f}' for m in METRICS)
              + f'  {r["metrics"]["minutes"]:>9.1f}')


if __name__ == '__main__':
    main()
