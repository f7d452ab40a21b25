"""Whole-or-nothing file writes, for everything this package writes that a later run
reads back (checkpoints, text-embedding files, a study's results)."""
import os
import os.path as osp
import tempfile
from typing import IO, Callable


def atomic_write(path: str, write: Callable[[IO], None], mode: str = 'wb') -> None:
    """Call ``write(f)`` on a temporary file in ``path``'s folder, flush it to disk and
    rename it over ``path`` (``os.replace`` is atomic on one file system): a process
    killed meanwhile leaves the previous file, or none, never a partial one. Each call
    has a temporary file of its own, so concurrent writers never write into one file;
    the finished file gets the mode ``open()`` would have given it."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp creates the file 0600
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
