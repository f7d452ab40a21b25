"""Text-embedding files: the checked format ``tools/build_text_embeddings.py`` writes
(embeddings with the class names, CLIP model, templates and dimension they were made
with) and plain ``.npy`` arrays as Detic and YOLO-World write them."""
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

from ...utils.files import atomic_write
from .clip_text import prompt_names

EMBEDDING_FILE_VERSION = 1


def embedding_file_metadata(class_names: Sequence[str], model: str, pretrained: Optional[str],
                            templates: Sequence[str], name_map: Optional[Dict[str, str]],
                            embed_dims: int) -> dict:
    """What an embedding file records about how its embeddings were made."""
    return dict(format_version=EMBEDDING_FILE_VERSION, class_names=list(class_names),
                prompt_names=prompt_names(class_names, name_map), model=model,
                pretrained=pretrained, templates=list(templates), embed_dims=int(embed_dims))


def save_embedding_file(path: str, embeddings: torch.Tensor, metadata: dict) -> None:
    """Write embeddings and their metadata (tensors and plain types only), atomically."""
    content = dict(metadata, embeddings=embeddings.detach().float().cpu().contiguous())
    atomic_write(path, lambda f: torch.save(content, f))


def load_embedding_file(path: str, expected: dict) -> torch.Tensor:
    """Load an embedding file, checking it against ``expected``.

    Args:
        path: a file written by :func:`save_embedding_file`
            (``tools/build_text_embeddings.py``), whose metadata must match; or a plain
            ``(C, D)`` array in a ``.npy`` file (as Detic and YOLO-World write them),
            whose rows are taken as the config's class names in order and L2-normalised.
        expected: metadata fields the file must match (a subset of
            :func:`embedding_file_metadata`'s; a ``.npy`` is checked against its
            ``class_names`` and ``embed_dims``).

    Returns:
        Tensor: (C, D) embeddings.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'TextEmbeddingBank: embedding file {path} does not exist; fix: build it with '
            f'`python tools/build_text_embeddings.py ... --out {path}` or correct '
            f'text_bank.embedding_file')
    if path.endswith('.npy'):
        return load_npy_embeddings(path, expected['class_names'], expected['embed_dims'])
    from ...utils.checkpoint import CheckpointRefusedError, load_checkpoint_file
    try:
        # Tensors and plain types only: a file holding anything else is refused unrun.
        content = load_checkpoint_file(path, map_location='cpu')
    except CheckpointRefusedError:
        raise
    except Exception as error:  # truncated, corrupt, or not written by this project
        raise ValueError(
            f'TextEmbeddingBank: embedding file {path} cannot be read ({type(error).__name__}: '
            f'{error}); fix: rebuild it with tools/build_text_embeddings.py') from error
    if not isinstance(content, dict) or not isinstance(content.get('embeddings'), torch.Tensor):
        raise ValueError(f'TextEmbeddingBank: {path} holds no `embeddings` tensor; fix: rebuild '
                         f'it with tools/build_text_embeddings.py')
    for field, want in expected.items():
        have = content.get(field)
        if have != want:
            raise ValueError(
                f'TextEmbeddingBank: field `{field}` of embedding file {path} is {have!r} but the '
                f'config asks for {want!r}; fix: rebuild the file with '
                f'tools/build_text_embeddings.py or change text_bank in the config to match')
    embeddings = content['embeddings'].float()
    if embeddings.shape != (len(content['class_names']), content['embed_dims']):
        raise ValueError(f'TextEmbeddingBank: embeddings in {path} have shape '
                         f'{tuple(embeddings.shape)}, not (num classes, embed_dims); the file is '
                         f'damaged: rebuild it with tools/build_text_embeddings.py')
    return embeddings


def load_npy_embeddings(path: str, class_names: Sequence[str], embed_dims: int) -> torch.Tensor:
    """A plain ``(C, D)`` array as the embeddings of ``class_names`` (in that order),
    rows L2-normalised; a shape that does not match is an error naming both."""
    import numpy as np
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as error:
        raise ValueError(f'TextEmbeddingBank: {path} cannot be read as a .npy array '
                         f'({type(error).__name__}: {error})') from error
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f'TextEmbeddingBank: {path} holds a {array.dtype} array of shape '
                         f'{array.shape}; an embedding array is 2-d float (classes, dims)')
    rows, dims = array.shape
    if rows != len(class_names):
        raise ValueError(
            f'TextEmbeddingBank: {path} has {rows} rows but text_bank.class_names has '
            f'{len(class_names)} classes ({list(class_names)[:3]}...); fix: one row per class, '
            f'in the order of text_bank.class_names')
    if dims != embed_dims:
        raise ValueError(f'TextEmbeddingBank: {path} has {dims}-d rows but text_bank.embed_dims '
                         f'is {embed_dims}; fix: set embed_dims={dims}')
    embeddings = torch.from_numpy(array.astype(np.float32))
    norms = embeddings.norm(dim=1)
    if not torch.isfinite(embeddings).all() or (norms == 0).any():
        bad = [i for i in range(rows) if not torch.isfinite(embeddings[i]).all() or norms[i] == 0]
        raise ValueError(f'TextEmbeddingBank: rows {bad[:5]} of {path} are zero or not finite')
    return F.normalize(embeddings, dim=1)
