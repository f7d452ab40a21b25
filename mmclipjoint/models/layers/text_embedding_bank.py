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
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mmdet.registry import MODELS
from .clip_text import DEFAULT_TEMPLATES, encode_class_names, resolve_class_names
from .embedding_files import embedding_file_metadata, load_embedding_file, save_embedding_file

TEMPERATURE_MODES = ('per_class', 'shared', 'fixed')
INIT_SOURCES = ('clip', 'file', 'random')


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
            regions = region_embeds.float()
            # cos = (v . t) / |v|: the norm divides the (N, C) products rather than the
            # (N, D) embeddings (fewer passes over N x D values, forward and backward);
            # F.normalize's eps.
            inverse_norm = 1.0 / regions.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            return (regions @ self.text_embeddings().float().t()) * \
                (inverse_norm * self.logit_scale().float())

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
