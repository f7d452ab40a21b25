"""Train a detector: MMDetection's own tools/train.py with mmclipjoint registered.

Usage and flags are exactly those of MMDetection's tool, e.g.
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options k=v ...]
The built-in dataset is generated first when the config asks for it.
"""
import mmclipjoint  # noqa: F401  (registers modules, fixes checkpoint loading)
from mmclipjoint.utils.tools import run_mmdet_tool

if __name__ == '__main__':
    run_mmdet_tool('train.py')
