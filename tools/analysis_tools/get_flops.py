"""MMDetection's tools/analysis_tools/get_flops.py with mmclipjoint registered.

Usage and flags are exactly those of MMDetection's tool; see the README's "After
training" section. The built-in dataset is generated first when a config asks for it.
"""
import mmclipjoint  # noqa: F401  (registers modules, fixes checkpoint loading)
from mmclipjoint.utils.tools import run_mmdet_tool

if __name__ == '__main__':
    run_mmdet_tool('analysis_tools/get_flops.py')
