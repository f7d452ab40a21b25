"""The built-in pretrained weights a config asks for, made ready before a run.

A config lists the files it reads with a top-level ``builtin_weights = [path, ...]``
(beside ``builtin_dataset``). Each file name is one of :data:`ARTIFACTS`; a missing file
is made on first use: unpacked from the compact copy committed under ``pretrained/``
when there is one (seconds), otherwise built by its tool (minutes). Tools that take a
config (tools/train.py, tools/test.py, tools/demo.py, the study) do it before building
the model; :func:`prepare_builtin_weights` does it from Python.
"""
import os
import os.path as osp
from typing import Callable, Dict, List, NamedTuple

import torch

from ..datasets.shapes import _exclusive
from ..utils.families import REPO_ROOT
from ..utils.files import atomic_write
from .packing import load_packed, unpack_weights

PACKED_DIR = osp.join(REPO_ROOT, 'pretrained')


class Artifact(NamedTuple):
    packed: str  # file name under pretrained/
    build: Callable[[str], None]  # build(path): train and write the file at path
    save: Callable[[Dict[str, torch.Tensor], str], None]  # write an unpacked state dict


def _save_open_clip(state_dict: Dict[str, torch.Tensor], path: str) -> None:
    atomic_write(path, lambda f: torch.save(state_dict, f))


def _build_clip(path: str) -> None:
    from .build import build_builtin_clip
    build_builtin_clip(out_dir=osp.dirname(path) or '.')


def _build_backbone(path: str) -> None:
    from .backbones import build_builtin_backbone
    build_builtin_backbone(osp.basename(path), out_dir=osp.dirname(path) or '.')


def _save_backbone(state_dict: Dict[str, torch.Tensor], path: str) -> None:
    from .backbones import save_backbone_weights
    save_backbone_weights(state_dict, path)


#: The built-in pretrained backbones: weights file name -> its classification config
#: (mmclipjoint/pretraining/backbones.py builds them; kept here, where no mmpretrain
#: import is needed). Detector configs load a file with ``backbone.init_cfg=dict(
#: type='Pretrained', checkpoint='data/pretrained/<name>', prefix='backbone.')``.
BACKBONE_CONFIGS: Dict[str, str] = {
    'r18-slim_shapes-crops.pth': 'configs/pretraining/r18-slim_shapes-crops_cls.py',
    'cspdarknet-tiny_shapes-crops.pth': 'configs/pretraining/cspdarknet-tiny_shapes-crops_cls.py',
    'cspnext-tiny_shapes-crops.pth': 'configs/pretraining/cspnext-tiny_shapes-crops_cls.py',
    'yolo11n_shapes-crops.pth': 'configs/pretraining/yolo11n_shapes-crops_cls.py',
}

ARTIFACTS: Dict[str, Artifact] = {
    'mmclipjoint-shapes-clip.pt': Artifact('mmclipjoint-shapes-clip.packed.pt', _build_clip,
                                           _save_open_clip),
    **{name: Artifact(name.replace('.pth', '.packed.pt'), _build_backbone, _save_backbone)
       for name in BACKBONE_CONFIGS},
}


def ensure_builtin_weights(path: str, logger=print) -> str:
    """Make sure the built-in weights file ``path`` exists; returns it."""
    name = osp.basename(path)
    if name not in ARTIFACTS:
        raise ValueError(f'builtin_weights: {path!r} is not a built-in weights file; known '
                         f'file names: {sorted(ARTIFACTS)}')
    if osp.isfile(path):
        return path
    artifact = ARTIFACTS[name]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with _exclusive(path):
        if osp.isfile(path):  # another process made it meanwhile
            return path
        packed = osp.join(PACKED_DIR, artifact.packed)
        if osp.isfile(packed):
            logger(f'[builtin_weights] unpacking {osp.relpath(packed, REPO_ROOT)} to {path}')
            artifact.save(unpack_weights(load_packed(packed)), path)
        else:
            logger(f'[builtin_weights] {path} missing and no packed copy in {PACKED_DIR}: '
                   f'building it (minutes)')
            artifact.build(path)
    return path


def prepare_builtin_weights(cfg, logger=print) -> List[str]:
    """Make every file of the config's ``builtin_weights`` list exist."""
    paths = cfg.get('builtin_weights') or []
    if isinstance(paths, str):
        paths = [paths]
    return [ensure_builtin_weights(path, logger) for path in paths]
