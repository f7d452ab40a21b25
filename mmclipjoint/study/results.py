"""The study's results store: ``<out>/results.json``, a list of rows (one per finished
run, with its parameters, metrics, minutes and the code's git commit), written whole or
not at all and shared safely by studies writing the same file."""
import json
import os.path as osp
from typing import List, Optional, Sequence

from ..utils.files import atomic_write
from .grid import REPO_ROOT


def load_results(path: str) -> List[dict]:
    """The rows of a results file (none when it does not exist yet); a file that is not a
    list of rows is an error naming it, never overwritten."""
    if not osp.isfile(path):
        return []
    try:
        with open(path) as f:
            rows = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SystemExit(
            f'study: {path} is not valid JSON ({error}); it was left as it is. Fix: restore it '
            f'(git checkout -- {path}, or a copy), or move it away to start the study '
            f'afresh') from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and 'id' in r for r in rows):
        raise SystemExit(f'study: {path} is not a list of result rows (each a dict with an '
                         f'"id"); it was left as it is. Fix: restore it, or move it away')
    return rows


def reused_row(run: dict, others: Sequence[str]) -> Optional[dict]:
    """The row of the same run in another study's results, relabelled for this one."""
    for path in others:
        for row in load_results(path):
            if row['id'] == run['id']:
                return dict(row, family=run['family'], variant=run['variant'],
                            reused_from=osp.relpath(path, REPO_ROOT))
    return None


def save_results(path: str, rows: List[dict]) -> List[dict]:
    """Write ``rows``, keeping the rows another process wrote there meanwhile (two studies
    sharing a folder lose nothing); returns what was written."""
    ids = {row['id'] for row in rows}
    rows = rows + [row for row in load_results(path) if row['id'] not in ids]
    # Whole or not at all: a study killed while saving leaves the previous file.
    atomic_write(path, lambda f: json.dump(rows, f, indent=1), mode='w')
    return rows
