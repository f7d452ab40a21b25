"""Shared plumbing of ``tools/train.py`` and ``tools/test.py``.

Both are MMDetection's own tools (shipped inside the mmdet package under
``.mim/tools``), run after what only this project needs: importing ``mmclipjoint``
(registries, checkpoint loading), generating the built-in dataset when the config asks
for one, and, before training, checking the training annotations
(:mod:`mmclipjoint.datasets.checks`).
"""
import argparse
import contextlib
import copy
import os
import os.path as osp
import runpy
import sys
from typing import Iterator, List, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction

from ..datasets import prepare_builtin_dataset
from ..datasets.checks import AnnotationError, check_training_annotations
from ..pretraining.artifacts import prepare_builtin_weights
from .upstream import without_text_formatting


def mmdet_tool_path(name: str) -> str:
    """Path of one of MMDetection's tools, e.g. ``'train.py'``."""
    import mmdet
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'MMDetection tool {name} not found at {path}; mmclipjoint needs an mmdet '
            f'installed from its wheel (pip install mmdet==3.3.0), which ships its tools')
    return path


def load_cli_config(argv: List[str]) -> Config:
    """The config named first on a tool's command line, with its ``--cfg-options``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args, _ = parser.parse_known_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def _cpu_distributed_options(argv: List[str]) -> List[str]:
    """Make ``--launcher pytorch`` (torchrun) work on machines without CUDA.

    mmengine's launcher calls ``torch.cuda.set_device`` and its Runner gives DDP
    ``device_ids``, both of which fail on CPU processes. mmengine initialises the
    process group only when none exists, so here it is initialised with gloo from
    torchrun's environment, and the CPU-aware model wrapper is selected.
    """
    launcher = next((a.split('=', 1)[1] for a in argv if a.startswith('--launcher=')), None)
    if '--launcher' in argv[:-1]:
        launcher = argv[argv.index('--launcher') + 1]
    if launcher != 'pytorch' or torch.cuda.is_available():
        return []
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    return ['--cfg-options', 'model_wrapper_cfg.type=CPUDistributedDataParallel']


@contextlib.contextmanager
def configs_parsed_once() -> Iterator[None]:
    """Inside the block, ``Config.fromfile`` parses each file once and hands out copies.

    A tool parses its config twice: here (to prepare the data) and in MMDetection's tool.
    Parsing the built-in configs takes about a second (mmengine reads MMDetection's 800
    metafiles to resolve every ``mmdet::`` base), a tenth of a tiny run. With
    ``MMCLIPJOINT_FORMAT_CONFIG=0`` the config text that mmengine logs and dumps is left
    unformatted: yapf takes another 1.4 s per run; the text is the same Python, on long
    lines. (mmengine's own ``format_python_code=False`` is ignored for such configs.)
    """
    original = Config.fromfile
    plain = os.environ.get('MMCLIPJOINT_FORMAT_CONFIG', '1') == '0'
    parsed = {}

    def fromfile(filename, *args, **kwargs):
        key = (osp.abspath(str(filename)), args, tuple(sorted(kwargs.items())))
        if key not in parsed:
            cfg = original(filename, *args, **kwargs)
            parsed[key] = without_text_formatting(cfg) if plain else cfg
        return copy.deepcopy(parsed[key])

    Config.fromfile = staticmethod(fromfile)
    try:
        yield
    finally:
        Config.fromfile = staticmethod(original)


def run_mmdet_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Prepare what the config needs, then run MMDetection's ``tools/<name>`` as is."""
    argv = sys.argv[1:] if argv is None else argv
    if '--amp' in argv and not torch.cuda.is_available():
        raise SystemExit(
            f'{name}: --amp (mixed precision) needs a CUDA GPU and none is available '
            f"here; mmengine's AmpOptimWrapper would stop with an assertion. Fix: run "
            f'without --amp on the CPU.')
    if name.endswith('benchmark.py') and not torch.cuda.is_available():
        raise SystemExit(
            f'{name}: MMDetection\'s InferenceBenchmark moves the model to CUDA and times '
            f'with CUDA synchronisation, and no CUDA GPU is available here. On the CPU, time '
            f'inference (images/s, and training) with tools/benchmark_overhead.py --device cpu '
            f'--baseline STOCK_CONFIG --joint JOINT_CONFIG, which measures both models in '
            f'alternating rounds of the same run.')
    with configs_parsed_once():
        if argv and argv[0].endswith('.py'):  # a config (analyze_logs takes a command)
            cfg = load_cli_config(argv)
            prepare_builtin_dataset(cfg)
            prepare_builtin_weights(cfg)
            if name == 'train.py':
                try:
                    check_training_annotations(cfg)
                except AnnotationError as error:
                    raise SystemExit(f'{name}: {error}') from None
        argv = list(argv) + _cpu_distributed_options(argv)
        path = mmdet_tool_path(name)
        sys.argv = [path] + argv
        runpy.run_path(path, run_name='__main__')
