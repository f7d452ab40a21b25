"""Compact copies of pretrained weights, small enough to ship in the repository.

A packed file holds every tensor in float16 and, for embedding tables of which only a
few rows were ever trained (the built-in CLIP's token embedding: 49,408 rows, about 20
used by its captions), only those rows and their indices. :func:`unpack_weights` gives
back a full float32 state dict (the untrained rows zero), which is what the stand-ins
are loaded from and measured on. Plain tensors and types only: it loads with
``weights_only=True``.
"""
from typing import Dict, Optional, Sequence

import torch

from ..utils.files import atomic_write

PACK_FORMAT = 'mmclipjoint-packed-weights-v1'


def pack_weights(state_dict: Dict[str, torch.Tensor],
                 sparse_rows: Optional[Dict[str, Sequence[int]]] = None,
                 metadata: Optional[dict] = None) -> dict:
    """A packed copy of ``state_dict``; ``sparse_rows[key]``: the rows of ``key`` to keep
    (the others must not matter, e.g. embeddings of tokens never used)."""
    sparse_rows = sparse_rows or {}
    missing = set(sparse_rows) - set(state_dict)
    if missing:
        raise KeyError(f'pack_weights: sparse_rows names {sorted(missing)}, not in the state dict')
    tensors, rows, shapes = {}, {}, {}
    for key, value in state_dict.items():
        value = value.detach().cpu()
        shapes[key] = list(value.shape)
        if key in sparse_rows:
            index = torch.as_tensor(sorted(set(int(i) for i in sparse_rows[key])),
                                    dtype=torch.long)
            rows[key] = index
            value = value[index]
        tensors[key] = value.to(torch.float16) if value.is_floating_point() else value
    return dict(format=PACK_FORMAT, tensors=tensors, rows=rows, shapes=shapes,
                metadata=dict(metadata or {}))


def unpack_weights(packed: dict) -> Dict[str, torch.Tensor]:
    """The full float32 state dict of a packed copy (rows not kept are zero)."""
    if not isinstance(packed, dict) or packed.get('format') != PACK_FORMAT:
        raise ValueError(f'not a packed weights file (format {PACK_FORMAT!r} expected)')
    state_dict = {}
    for key, value in packed['tensors'].items():
        value = value.float() if value.is_floating_point() else value
        if key in packed['rows']:
            full = torch.zeros(packed['shapes'][key], dtype=value.dtype)
            full[packed['rows'][key]] = value
            value = full
        state_dict[key] = value.reshape(packed['shapes'][key]).contiguous()
    return state_dict


def save_packed(path: str, packed: dict) -> None:
    atomic_write(path, lambda f: torch.save(packed, f))


def load_packed(path: str) -> dict:
    """A packed file, read with ``weights_only=True`` (tensors and plain types only)."""
    return torch.load(path, map_location='cpu', weights_only=True)
