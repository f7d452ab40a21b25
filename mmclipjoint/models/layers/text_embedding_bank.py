"""Learnable class text embeddings and class-specific temperatures.

The bank is what the contrastive branch of every mmclipjoint head scores region
embeddings against: one D-dimensional embedding per class, initialised from the CLIP
text encoder (open_clip), an embedding file, or (asked for explicitly) at random, and
one temperature per class.

The text encoder never becomes part of the detector: it is loaded once, in
``init_weights`` (which mmengine's Runner calls before training, but not before
testing, where the checkpoint holds the learned embeddings), on the CPU, and dropped
after encoding. The embeddings are cached in ``cache_dir`` so that later runs do not
load CLIP again.
"""
import hashlib
import json
import math
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mmdet.registry import MODELS

EMBEDDING_FILE_VERSION = 1

# How VOC's run-together class names read as English words to a text encoder.
DEFAULT_NAME_MAP = {
    'aeroplane': 'airplane',
    'diningtable': 'dining table',
    'pottedplant': 'potted plant',
    'tvmonitor': 'tv monitor',
}
DEFAULT_TEMPLATES = ('a photo of a {}.', )
# The 7 templates CLIP's authors chose for ImageNet evaluation.
ENSEMBLE_TEMPLATES = (
    'itap of a {}.', 'a bad photo of the {}.', 'a origami {}.', 'a photo of the large {}.',
    'a {} in a video game.', 'art of the {}.', 'a photo of the small {}.')

TEMPERATURE_MODES = ('per_class', 'shared', 'fixed')
INIT_SOURCES = ('clip', 'file', 'random')


def resolve_class_names(class_names: Union[str, Sequence[str]]) -> List[str]:
    """A list of class names, or ``'voc'`` / ``'coco'`` for MMDetection's own tables."""
    if isinstance(class_names, str):
        from mmdet.datasets import CocoDataset, VOCDataset
        tables = dict(voc=VOCDataset.METAINFO['classes'], coco=CocoDataset.METAINFO['classes'])
        if class_names.lower() not in tables:
            raise ValueError(f"TextEmbeddingBank.class_names: '{class_names}' is neither a list of "
                             f"names nor one of {sorted(tables)}")
        return list(tables[class_names.lower()])
    names = list(class_names)
    if not names or len(set(names)) != len(names):
        raise ValueError(f'TextEmbeddingBank.class_names must be non-empty and unique, got {names}')
    return names


def prompt_names(class_names: Sequence[str], name_map: Optional[Dict[str, str]]) -> List[str]:
    """The class names as the text encoder reads them (after the spelling map)."""
    name_map = DEFAULT_NAME_MAP if name_map is None else name_map
    return [name_map.get(name, name) for name in class_names]


@torch.no_grad()
def encode_class_names(class_names: Sequence[str], model: str = 'ViT-B-32',
                       pretrained: Optional[str] = 'openai',
                       templates: Sequence[str] = DEFAULT_TEMPLATES,
                       name_map: Optional[Dict[str, str]] = None,
                       batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """Encode class names with a CLIP text encoder, averaging over prompt templates.

    Each class's prompts are encoded, L2-normalised, averaged and normalised again
    (CLIP's zero-shot ensembling).

    Args:
        class_names: the classes, in the detector's label order.
        model: an open_clip model name, e.g. ``'ViT-B-32'``.
        pretrained: an open_clip pretrained tag (``'openai'``), or the path of a local
            checkpoint file, or None for random weights (tests only).
        templates: prompt templates, each with one ``{}`` for the class name.
        name_map: spelling fixes applied to the names (default: VOC's).

    Returns:
        Tensor: (C, D) float32, unit-norm rows, on the CPU.
    """
    import open_clip
    for template in templates:
        if template.count('{}') != 1:
            raise ValueError(f"prompt template '{template}' must contain exactly one '{{}}'")
    clip_model = open_clip.create_model(model, pretrained=pretrained,
                                        require_pretrained=pretrained is not None)
    clip_model.eval()
    tokenizer = open_clip.get_tokenizer(model)
    names = prompt_names(class_names, name_map)
    prompts = [template.format(name) for name in names for template in templates]
    chunks = range(0, len(prompts), batch_size)
    if progress:
        from tqdm import tqdm
        chunks = tqdm(chunks, desc=f'encoding {len(prompts)} prompts with {model}', unit='batch')
    feats = torch.cat([clip_model.encode_text(tokenizer(prompts[i:i + batch_size]),
                                              normalize=True) for i in chunks])
    feats = feats.float().view(len(names), len(templates), -1).mean(1)
    return F.normalize(feats, dim=-1)


def embedding_file_metadata(class_names: Sequence[str], model: str, pretrained: Optional[str],
                            templates: Sequence[str], name_map: Optional[Dict[str, str]],
                            embed_dims: int) -> dict:
    """What an embedding file records about how its embeddings were made."""
    return dict(format_version=EMBEDDING_FILE_VERSION, class_names=list(class_names),
                prompt_names=prompt_names(class_names, name_map), model=model,
                pretrained=pretrained, templates=list(templates), embed_dims=int(embed_dims))


def save_embedding_file(path: str, embeddings: torch.Tensor, metadata: dict) -> None:
    """Write embeddings and their metadata (tensors and plain types only), atomically."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    torch.save(dict(metadata, embeddings=embeddings.detach().float().cpu().contiguous()), tmp)
    os.replace(tmp, path)


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


@MODELS.register_module()
class TextEmbeddingBank(BaseModule):
    """Class text embeddings and temperatures that region embeddings are scored against.

    ``forward(region_embeds)`` returns, for N region embeddings, the logits

        logits[i, c] = s_c * cos(v_i, t_c),  s_c = 1 / tau_c, clamped to [1, max_logit_scale]

    over the C classes, plus a last column for the background embedding when
    ``background=True``.

    Args:
        class_names (list[str] | str): classes in label order, or ``'voc'`` / ``'coco'``.
        embed_dims (int): D, the joint embedding size (512 for CLIP ViT-B/32).
        init (str): where the initial embeddings come from: ``'clip'`` (encode the class
            names with ``clip``), ``'file'`` (``embedding_file``, checked against ``clip``),
            or ``'random'`` (only when asked for; warns).
        clip (dict): ``model`` (open_clip name), ``pretrained`` (tag or local checkpoint
            path), ``templates`` (one or several prompts, averaged per class), ``name_map``
            (spelling fixes; None = VOC's defaults).
        embedding_file (str, optional): path of a file from
            ``tools/build_text_embeddings.py`` (metadata checked against the config), or
            of a plain ``(C, D)`` ``.npy`` array (Detic / YOLO-World style: rows in the
            order of ``class_names``, L2-normalised on loading); required by
            ``init='file'``.
        cache_dir (str): where CLIP-encoded embeddings are cached for later runs.
        learnable (bool): update the text embeddings during training (the paper's
            choice) or keep them frozen.
        temperature (dict): ``mode`` in ``'per_class'`` (one learnable temperature per
            class, the paper's), ``'shared'`` (one learnable), ``'fixed'``; ``init``
            (CLIP's 0.07); ``max_logit_scale`` (100: tau never below 0.01).
        background (bool): add a learnable background embedding (a last logit column),
            used by the auxiliary cross-entropy and by fused inference.
    """

    def __init__(self,
                 class_names: Union[str, Sequence[str]],
                 embed_dims: int = 512,
                 init: str = 'clip',
                 clip: Optional[dict] = None,
                 embedding_file: Optional[str] = None,
                 cache_dir: str = '~/.cache/mmclipjoint/text_embeddings',
                 learnable: bool = True,
                 temperature: Optional[dict] = None,
                 background: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.class_names = resolve_class_names(class_names)
        self.embed_dims = embed_dims
        if init not in INIT_SOURCES:
            raise ValueError(f"TextEmbeddingBank.init must be one of {INIT_SOURCES}, got '{init}'")
        if init == 'file' and not embedding_file:
            raise ValueError("TextEmbeddingBank: init='file' needs text_bank.embedding_file")
        self.init_source = init
        clip = dict(clip or {})
        unknown = set(clip) - {'model', 'pretrained', 'templates', 'name_map'}
        if unknown:
            raise ValueError(f'TextEmbeddingBank.clip: unknown field(s) {sorted(unknown)}')
        self.clip_cfg = dict(model=clip.get('model', 'ViT-B-32'),
                             pretrained=clip.get('pretrained', 'openai'),
                             templates=tuple(clip.get('templates', DEFAULT_TEMPLATES)),
                             name_map=clip.get('name_map'))
        self.embedding_file = embedding_file
        self.cache_dir = osp.expanduser(cache_dir)
        self.learnable = learnable

        temperature = {**dict(mode='per_class', init=0.07, max_logit_scale=100.0),
                       **(temperature or {})}
        unknown = set(temperature) - {'mode', 'init', 'max_logit_scale'}
        if unknown:
            raise ValueError(f'TextEmbeddingBank.temperature: unknown field(s) {sorted(unknown)}')
        if temperature['mode'] not in TEMPERATURE_MODES:
            raise ValueError(f'TextEmbeddingBank.temperature.mode must be one of '
                             f"{TEMPERATURE_MODES}, got '{temperature['mode']}'")
        self.temperature_mode = temperature['mode']
        self.max_log_scale = math.log(temperature['max_logit_scale'])
        num_logits = len(self.class_names) + int(background)
        log_scale = torch.full((num_logits if self.temperature_mode == 'per_class' else 1, ),
                               math.log(1.0 / temperature['init']))
        if self.temperature_mode == 'fixed':
            self.register_buffer('log_logit_scale', log_scale)
        else:
            self.log_logit_scale = nn.Parameter(log_scale)

        # Placeholder values until init_weights() (or a checkpoint) provides real ones.
        self.embeddings = nn.Parameter(
            F.normalize(torch.randn(len(self.class_names), embed_dims), dim=-1),
            requires_grad=learnable)
        self.background_embedding = nn.Parameter(
            F.normalize(torch.randn(embed_dims), dim=0)) if background else None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def with_background(self) -> bool:
        return self.background_embedding is not None

    def logit_scale(self) -> torch.Tensor:
        """(C [+1],) or (1,) multipliers 1/tau, within [1, max_logit_scale]."""
        return self.log_logit_scale.clamp(0.0, self.max_log_scale).exp()

    def text_embeddings(self) -> torch.Tensor:
        """(C [+1], D) unit-norm embeddings, background last when present."""
        embeds = self.embeddings
        if self.with_background:
            embeds = torch.cat([embeds, self.background_embedding[None]])
        return F.normalize(embeds, dim=-1)

    def forward(self, region_embeds: torch.Tensor) -> torch.Tensor:
        """Score region embeddings against the classes (and background).

        Args:
            region_embeds (Tensor): (N, D) region embeddings; they are L2-normalised here.

        Returns:
            Tensor: (N, C) logits, or (N, C + 1) with the background column last.
        """
        # float32 whatever the autocast context: logits up to 100 overflow float16's
        # exp in the softmax, and the bank is tiny.
        with torch.autocast(device_type=region_embeds.device.type, enabled=False):
            regions = F.normalize(region_embeds.float(), dim=-1)
            return regions @ self.text_embeddings().float().t() * self.logit_scale().float()

    # ---- initialisation ------------------------------------------------------------

    def expected_metadata(self) -> dict:
        """Metadata an embedding file must carry to be used by this bank."""
        meta = embedding_file_metadata(self.class_names, embed_dims=self.embed_dims,
                                       **self.clip_cfg)
        meta.pop('pretrained')  # the same weights may come from a tag or a local file
        meta.pop('format_version')
        return meta

    def _cache_path(self) -> str:
        key = embedding_file_metadata(self.class_names, embed_dims=self.embed_dims,
                                      **self.clip_cfg)
        pretrained = self.clip_cfg['pretrained']
        if pretrained and osp.isfile(pretrained):  # a changed local file is a new cache entry
            stat = os.stat(pretrained)
            key['pretrained'] = [osp.abspath(pretrained), stat.st_size, stat.st_mtime_ns]
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return osp.join(self.cache_dir, f'{self.clip_cfg["model"]}-{digest}.pth')

    def initial_embeddings(self) -> Optional[torch.Tensor]:
        """(C, D) embeddings from the configured source (None for ``'random'``)."""
        if self.init_source == 'random':
            return None
        if self.init_source == 'file':
            return load_embedding_file(self.embedding_file, self.expected_metadata())
        cache = self._cache_path()
        if osp.isfile(cache):
            print_log(f'TextEmbeddingBank: text embeddings from cache {cache}', logger='current')
            return load_embedding_file(cache, self.expected_metadata())
        print_log(f'TextEmbeddingBank: encoding {self.num_classes} class names with open_clip '
                  f"{self.clip_cfg['model']} ({self.clip_cfg['pretrained']})", logger='current')
        try:
            embeddings = encode_class_names(self.class_names, **self.clip_cfg)
        except RuntimeError as error:
            if 'Failed to download' not in str(error):
                raise
            raise RuntimeError(
                f"TextEmbeddingBank: the CLIP weights {self.clip_cfg['pretrained']!r} of "
                f"{self.clip_cfg['model']} could not be downloaded ({error}). Offline, either "
                f'set text_bank.clip.pretrained to a local open_clip checkpoint file, or '
                f"set text_bank.init='file' with text_bank.embedding_file built elsewhere by "
                f'tools/build_text_embeddings.py (or a (classes, dims) .npy array)') from error
        self._check_dims(embeddings, f"open_clip model {self.clip_cfg['model']}")
        save_embedding_file(cache, embeddings, embedding_file_metadata(
            self.class_names, embed_dims=self.embed_dims, **self.clip_cfg))
        return embeddings

    def _check_dims(self, embeddings: torch.Tensor, source: str) -> None:
        if embeddings.shape[-1] != self.embed_dims:
            raise ValueError(f'TextEmbeddingBank: {source} gives {embeddings.shape[-1]}-d '
                             f'embeddings but text_bank.embed_dims is {self.embed_dims}; fix: '
                             f'set embed_dims={embeddings.shape[-1]}')

    def init_weights(self) -> None:
        super().init_weights()
        embeddings = self.initial_embeddings()
        if embeddings is None:
            warnings.warn("TextEmbeddingBank: init='random': the class embeddings start random, "
                          "not from CLIP; set text_bank.init='clip' or 'file' for the method as "
                          'published')
            return
        with torch.no_grad():
            self.embeddings.copy_(embeddings.to(self.embeddings))
