"""Loading local training checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 calls
``torch.load`` without the argument, and its own checkpoints hold Python objects
(``HistoryBuffer`` in the message hub, numpy scalars in the meta), so resume,
``load_from=`` and ``tools/test.py CONFIG epoch_N.pth`` fail with
``Unsupported global: ...HistoryBuffer``.

Rather than the process-wide ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, this module
re-registers mmengine's loader for local paths only (the ``''`` scheme): the paths a
user names in ``load_from``, ``--resume`` or on the command line of ``tools/test.py``,
and the checkpoints mmengine's own ``CheckpointHook`` wrote into the work directory.
Remote schemes (``http://``, ``torchvision://``...) keep their stock behaviour, and the
files the project writes itself (text embeddings) are loaded with ``weights_only=True``.
Importing ``mmclipjoint`` (directly, or through a config's ``custom_imports``) applies it.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_training_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local mmengine checkpoint the user chose, objects included.

    Args:
        filename (str): path of the checkpoint on the local file system.
        map_location: as for :func:`torch.load`.

    Returns:
        dict: the checkpoint (``state_dict``, ``meta``, ``optimizer``, ``message_hub``...).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)
