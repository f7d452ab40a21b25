"""Test a detector: MMDetection's own tools/test.py with mmclipjoint registered.

Usage and flags are exactly those of MMDetection's tool, e.g.
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] \
        [--cfg-options k=v ...]
The built-in dataset is generated first when the config asks for it.
"""
import mmclipjoint  # noqa: F401  (registers modules, fixes checkpoint loading)
from mmclipjoint.utils.tools import run_mmdet_tool

if __name__ == '__main__':
    run_mmdet_tool('test.py')
