"""Checkpoints that load without running code, and that are written whole or not at all.

**Loading.** torch >= 2.6 loads with ``weights_only=True`` by default, which refuses
every Python object that is not a tensor or a plain container. mmengine 0.10.7's
training checkpoints hold a few such objects (the message hub's ``HistoryBuffer``, numpy
arrays, scalars and dtypes), so ``--resume``, ``load_from=`` and ``tools/test.py CONFIG
epoch_N.pth`` fail with ``Unsupported global``. Loading with ``weights_only=False``
would make them work *and* run whatever a hostile file pickled. Here every local
checkpoint is loaded with ``weights_only=True`` and an allow-list of exactly the types
that checkpoints written by ``tools/train.py`` hold (:data:`CHECKPOINT_SAFE_GLOBALS`,
read from real checkpoints of the four detector families). A file that holds anything
else is refused before anything in it runs (:class:`CheckpointRefusedError`, naming
the file, the refused type and how to trust the file). Trusting a file fully is the
user's explicit choice: list it in the environment variable
``MMCLIPJOINT_TRUSTED_CHECKPOINTS`` (paths separated by ``os.pathsep``), or pass
``--trust-checkpoint`` to the tools that take it.

Importing ``mmclipjoint`` (directly, or through a config's ``custom_imports``)
registers :func:`load_local_checkpoint` as mmengine's loader for local paths (the
``''`` scheme): ``load_from``, ``--resume``, ``tools/test.py``, ``init_cfg`` of type
``Pretrained`` with a local file and DetInferencer all go through it. Remote schemes
(``http://``, ``torchvision://``...) keep mmengine's loaders (``weights_only=True``
under torch >= 2.6).

**Writing.** mmengine's ``LocalBackend.put`` opens the checkpoint's final path and writes
into it: a process killed during the write leaves a truncated ``epoch_N.pth``.
Importing ``mmclipjoint`` registers :class:`AtomicLocalBackend` for local paths, which
writes to a temporary file in the same folder and renames it over the final path, so a
checkpoint file is either the previous one or the complete new one. A truncated file
(written by another tool, or copied partly) is reported by
:class:`CheckpointDamagedError` with the newest complete checkpoint beside it.
"""
import glob
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Iterable, List, Optional, Union

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .files import atomic_write

TRUST_ENV = 'MMCLIPJOINT_TRUSTED_CHECKPOINTS'

# The statistics a HistoryBuffer pickles by reference, as getattr(HistoryBuffer, name).
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'mean', 'current')


def _checkpoint_getattr(obj, name: str):
    """``builtins.getattr`` as checkpoints use it, and no further.

    mmengine's ``HistoryBuffer`` pickles its ``statistics_methods`` (``HistoryBuffer.min``
    and so on) as ``getattr(HistoryBuffer, 'min')``. Allowing ``getattr`` itself would let
    a file fetch any attribute of any object it can build (an array's ``tofile``, say);
    this stand-in, registered under the name ``builtins.getattr``, fetches only those.
    """
    if obj is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'unsupported call builtins.getattr({type(obj).__name__} object, {name!r})')


# Numeric and boolean numpy dtypes: a pickled dtype is rebuilt as an instance of its class.
_NUMPY_DTYPE_CLASSES = sorted(
    {type(np.dtype(code)) for code in '?bhilqBHILQefdgFDG'}, key=lambda c: c.__name__)

# What `torch.serialization.get_unsafe_globals_in_checkpoint` lists for checkpoints that
# tools/train.py wrote for the Faster R-CNN, YOLOX, RTMDet and YOLO11 joint configs
# (tests/utils/test_checkpoint.py checks that no real checkpoint needs more): the message
# hub's HistoryBuffer (and getattr, see above), numpy arrays (RandomStateHook's numpy
# generator state, HistoryBuffer's values), scalars (meta values) and dtypes.
CHECKPOINT_SAFE_GLOBALS = [
    HistoryBuffer,
    (_checkpoint_getattr, 'builtins.getattr'),
    np.ndarray,
    np.dtype,
    *_NUMPY_DTYPE_CLASSES,
    np._core.multiarray._reconstruct,
    np._core.multiarray.scalar,
]


def safe_global_names() -> set:
    """The full names of :data:`CHECKPOINT_SAFE_GLOBALS` as pickles write them."""
    return {entry[1] if isinstance(entry, tuple) else f'{entry.__module__}.{entry.__qualname__}'
            for entry in CHECKPOINT_SAFE_GLOBALS}


class CheckpointRefusedError(pickle.UnpicklingError):
    """A checkpoint holds a Python object that checkpoints of this stack never hold."""


class CheckpointDamagedError(RuntimeError):
    """A checkpoint file is truncated or otherwise not a complete checkpoint."""


def trusted_checkpoints() -> List[str]:
    """The real paths listed in ``MMCLIPJOINT_TRUSTED_CHECKPOINTS``."""
    listed = os.environ.get(TRUST_ENV, '')
    return [osp.realpath(osp.expanduser(p)) for p in listed.split(os.pathsep) if p.strip()]


def is_trusted(filename: str) -> bool:
    return osp.realpath(osp.expanduser(filename)) in trusted_checkpoints()


def trust_checkpoint(filename: str) -> None:
    """Add ``filename`` to ``MMCLIPJOINT_TRUSTED_CHECKPOINTS`` for this process (and the
    processes it starts): what a tool's ``--trust-checkpoint`` flag does, so that the
    loads inside mmengine and MMDetection trust the same file."""
    listed = [p for p in os.environ.get(TRUST_ENV, '').split(os.pathsep) if p]
    os.environ[TRUST_ENV] = os.pathsep.join(listed + [osp.abspath(osp.expanduser(filename))])


def _refused_type(message: str) -> str:
    """The type or function named by torch's weights-only refusal."""
    for pattern in (r'unsupported call (builtins\.getattr\(.*?\))',
                    r'GLOBAL ([\w.]+) was not an allowed global',
                    r'unsupported GLOBAL ([\w.]+)',
                    r'reduce for unrecognized function (.+?)(?: which belongs|\n|$)',
                    r'allowlisted via `add_safe_globals` but got (.+?)(?:\n|$)'):
        match = re.search(pattern, message)
        if match:
            return match.group(1).strip()
    return message.strip().splitlines()[-1] if message.strip() else 'an object'


def _is_checkpoint_file(path: str) -> bool:
    """Whether ``path`` is a complete torch zip file (its central directory, at the end
    of the file, is read: a truncated file has none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def last_good_checkpoint(filename: str) -> Optional[str]:
    """The newest complete checkpoint in the folder of ``filename``, other than it: the
    one ``last_checkpoint`` names when it is complete, else the newest ``*.pth``."""
    folder = osp.dirname(osp.abspath(filename))
    candidates = sorted(glob.glob(osp.join(folder, '*.pth')), key=osp.getmtime, reverse=True)
    pointer = osp.join(folder, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named:
            candidates.insert(0, named)
    for path in candidates:
        if osp.abspath(path) != osp.abspath(filename) and osp.isfile(path) and \
                _is_checkpoint_file(path):
            return path
    return None


def _damaged(filename: str, error: BaseException) -> CheckpointDamagedError:
    good = last_good_checkpoint(filename)
    advice = (f'the newest complete checkpoint beside it is {good}; fix: resume from it '
              f'(--resume {good}) or load it instead' if good else
              'no complete checkpoint lies beside it; fix: train again, or copy the file '
              'again from where it came from')
    return CheckpointDamagedError(
        f'{filename} is not a complete checkpoint (truncated or damaged: '
        f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}); '
        f'{advice}')


def load_checkpoint_file(filename: str, map_location=None, trusted: bool = False,
                         extra_safe_globals: Iterable = ()) -> Union[dict, object]:
    """Load a local checkpoint without running code from it.

    Args:
        filename (str): path of the file.
        map_location: as for :func:`torch.load`.
        trusted (bool): load the file fully (``weights_only=False``): only for a file the
            user said they trust (``--trust-checkpoint``). A file listed in
            ``MMCLIPJOINT_TRUSTED_CHECKPOINTS`` is trusted too.
        extra_safe_globals: types allowed beyond :data:`CHECKPOINT_SAFE_GLOBALS`.

    Returns:
        The unpickled content (a dict for mmengine checkpoints).

    Raises:
        FileNotFoundError: no such file (the newest complete checkpoint beside it named).
        CheckpointRefusedError: the file holds a type no checkpoint of this stack holds;
            nothing in it was run.
        CheckpointDamagedError: the file is truncated or damaged.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        good = last_good_checkpoint(filename) if osp.isdir(osp.dirname(
            osp.abspath(filename))) else None
        raise FileNotFoundError(f'{filename} can not be found.' + (
            f' The newest complete checkpoint in its folder is {good}.' if good else ''))
    try:
        if trusted or is_trusted(filename):
            return torch.load(filename, map_location=map_location, weights_only=False)
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS + list(extra_safe_globals)):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        message = str(error)
        if 'Weights only load failed' not in message:
            raise _damaged(filename, error) from None
        raise CheckpointRefusedError(
            f'{filename}: refused to load: it holds {_refused_type(message)}, which is not '
            f'among the types that mmengine / MMDetection / mmclipjoint checkpoints contain '
            f'(tensors, containers, HistoryBuffer, numpy arrays, scalars and dtypes). Loading '
            f'it fully would run code that the file brings; nothing in it has been run. Fix: '
            f'only if you trust this file (you wrote it, or it comes from a source you '
            f'trust), allow it explicitly with {TRUST_ENV}={filename} (or the tool\'s '
            f'--trust-checkpoint flag)') from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, RuntimeError) and not re.search(
                r'PytorchStreamReader|zip archive|central directory|file data|'
                r'unexpected EOF|Ran out of input', str(error)):
            raise
        raise _damaged(filename, error) from None


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """mmengine's loader for local paths: :func:`load_checkpoint_file`."""
    return load_checkpoint_file(filename, map_location)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, with whole-or-nothing writes: the bytes go to a
    temporary file in the target's folder, which is then renamed over the target
    (``os.replace`` is atomic on one file system)."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), lambda f: self._write(f, obj))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    @staticmethod
    def _write(f, data: bytes) -> None:
        f.write(data)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')
