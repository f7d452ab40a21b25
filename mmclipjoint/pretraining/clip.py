"""The built-in CLIP: a small open_clip model trained on the pretraining split's captions.

It stands in for the web-trained CLIP (ViT-B/32, OpenAI weights) that the method's text
embeddings start from, which cannot be downloaded here. It is an ordinary open_clip
model: its architecture is an open_clip model config of this package
(``model_configs/mmclipjoint-shapes-clip.json``, registered with
``open_clip.add_model_config``), its tokenizer is open_clip's, its loss is open_clip's
``ClipLoss``, and its weights are a plain open_clip state dict, read by
``open_clip.create_model(name, pretrained=<file>)`` like any local checkpoint.

Training runs on mmengine's Runner (``configs/pretraining/shapes-clip_*.py``):
:class:`CaptionedObjects` serves crops with captions, each batch holding distinct
attribute combinations (identical captions in one batch would be false negatives for
InfoNCE), and :class:`OpenClipModel` wraps the open_clip model for the Runner.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from mmdet.registry import DATASETS, MODELS
from ..datasets.pretraining import (NAMED_COLOURS, PRETRAINING_SHAPES, SIZES, TEXTURES,
                                    PretrainingParams, caption, load_pretraining_objects)
from ..models.layers.clip_text import BUILTIN_CLIP_MODEL, register_builtin_clip

# Attribute combinations: every batch draws distinct ones.
NUM_COMBINATIONS = len(PRETRAINING_SHAPES) * len(NAMED_COLOURS) * len(TEXTURES) * len(SIZES)


def combination_ids(attributes: np.ndarray) -> np.ndarray:
    """One id per (shape, colour, texture, size)."""
    shape, colour, texture, size = attributes.T
    return ((shape * len(NAMED_COLOURS) + colour) * len(TEXTURES) + texture) * len(SIZES) + size


@DATASETS.register_module()
class CaptionedObjects(Dataset):
    """A stream of (crop, caption) pairs from the pretraining split for CLIP training.

    Item ``i`` belongs to batch ``i // batch_size``; each batch draws ``batch_size``
    distinct attribute combinations, then for each a random crop that has it and a
    caption (:func:`~mmclipjoint.datasets.pretraining.caption`), and flips the crop
    horizontally with probability 0.5. Every draw is seeded by the item's index, so the
    stream is the same in every run and a resumed run continues it.

    Args:
        data_root: where the split is cached (rendered on first use).
        num_iters: batches in the stream (the training schedule's iterations).
        batch_size: the dataloader's batch size (at most :data:`NUM_COMBINATIONS`).
        caption_drop: probability of leaving each of size, colour and texture out.
        params: :class:`PretrainingParams` fields.
        seed: seeds the stream.
    """

    def __init__(self, data_root: str, num_iters: int, batch_size: int,
                 caption_drop: float = 0.5, params: Optional[dict] = None, seed: int = 0):
        if not 1 <= batch_size <= NUM_COMBINATIONS:
            raise ValueError(f'CaptionedObjects.batch_size must be in [1, {NUM_COMBINATIONS}] '
                             f'(the distinct attribute combinations), got {batch_size}')
        self.params = PretrainingParams(**(params or {}))
        self.crops, self.attributes = load_pretraining_objects(data_root, self.params)
        combos = combination_ids(self.attributes)
        self.by_combination = [np.flatnonzero(combos == c) for c in range(NUM_COMBINATIONS)]
        self.present = np.array([c for c in range(NUM_COMBINATIONS)
                                 if len(self.by_combination[c])])
        if len(self.present) < batch_size:
            raise ValueError(f'CaptionedObjects: the split has {len(self.present)} attribute '
                             f'combinations, fewer than batch_size={batch_size}; render more '
                             'scenes (params.num_scenes)')
        self.num_iters, self.batch_size = num_iters, batch_size
        self.caption_drop, self.seed = caption_drop, seed
        self.metainfo = dict(classes=PRETRAINING_SHAPES)

    def __len__(self) -> int:
        return self.num_iters * self.batch_size

    def __getitem__(self, index: int) -> dict:
        batch, slot = divmod(index, self.batch_size)
        order = np.random.default_rng([self.seed, 0, batch]).permutation(self.present)
        rng = np.random.default_rng([self.seed, 1, index])
        item = rng.choice(self.by_combination[order[slot]])
        crop = torch.from_numpy(self.crops[item]).permute(2, 0, 1)
        if rng.random() < 0.5:
            crop = crop.flip(2)
        return dict(inputs=crop.contiguous(),
                    caption=caption(self.attributes[item], rng, self.caption_drop))


def clip_mean_std(clip_model):
    """(1, 3, 1, 1) mean and std an open_clip model's images are normalised with."""
    cfg = clip_model.visual.preprocess_cfg
    return (torch.tensor(cfg['mean']).view(1, 3, 1, 1),
            torch.tensor(cfg['std']).view(1, 3, 1, 1))


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) images as an open_clip model reads them."""
    return (images.float() / 255.0 - mean) / std


@MODELS.register_module()
class OpenClipModel(BaseModel):
    """An open_clip model (by registered name) trained with open_clip's ``ClipLoss``.

    Inputs are uint8 (B, 3, H, W) crops and caption strings; they are normalised with
    the model's own mean / std and tokenised with its own tokenizer. The logit scale is
    clamped to at most 100, as open_clip's trainer does after every step.
    """

    def __init__(self, model_name: str = BUILTIN_CLIP_MODEL, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        import open_clip
        register_builtin_clip()
        self.model_name = model_name
        self.clip = open_clip.create_model(model_name, pretrained=None)
        # Channels-last convolutions: the image tower's step about 20% faster on CPU.
        self.clip.visual.to(memory_format=torch.channels_last)
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.loss = open_clip.ClipLoss()
        mean, std = clip_mean_std(self.clip)
        self.register_buffer('mean', mean, False)
        self.register_buffer('std', std, False)

    def forward(self, inputs: List[torch.Tensor], caption: Optional[List[str]] = None,
                mode: str = 'loss'):
        """``mode='loss'``: open_clip's ``ClipLoss`` of the crops against their captions;
        otherwise the crops' normalised image embeddings."""
        images = normalise(torch.stack(list(inputs)).to(self.mean.device), self.mean, self.std)
        images = images.contiguous(memory_format=torch.channels_last)
        if mode != 'loss':
            return self.clip.encode_image(images, normalize=True)
        with torch.no_grad():
            self.clip.logit_scale.clamp_(0, np.log(100))
        tokens = self.tokenizer(list(caption)).to(images.device)
        image_embeds, text_embeds, logit_scale = self.clip(images, tokens)
        return dict(loss_clip=self.loss(image_embeds, text_embeds, logit_scale))


@torch.no_grad()
def image_features(clip_model, crops: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """Normalised image embeddings (N, D) of uint8 (N, H, W, 3) crops."""
    clip_model.eval()
    mean, std = clip_mean_std(clip_model)
    features = []
    for start in range(0, len(crops), batch_size):
        images = torch.from_numpy(crops[start:start + batch_size]).permute(0, 3, 1, 2)
        features.append(clip_model.encode_image(normalise(images, mean, std), normalize=True))
    return torch.cat(features)


@torch.no_grad()
def zero_shot_accuracy(clip_model, features: torch.Tensor, labels: np.ndarray,
                       classnames: Sequence[str],
                       templates: Sequence[str] = ('a photo of a {}.', )) -> float:
    """Top-1 accuracy of open_clip's zero-shot procedure (``build_zero_shot_classifier``:
    prompts from ``templates``, encoded, averaged per class) on the images whose
    :func:`image_features` are ``features``."""
    import open_clip
    from open_clip.zero_shot_classifier import build_zero_shot_classifier
    clip_model.eval()
    tokenizer = open_clip.get_tokenizer(getattr(clip_model, 'model_name', BUILTIN_CLIP_MODEL))
    classifier = build_zero_shot_classifier(clip_model, tokenizer, classnames,
                                            [t.format for t in templates])
    predicted = (features @ classifier).argmax(1).numpy()
    return float((predicted == labels).mean())


def colour_templates() -> List[str]:
    """Prompts for colour zero-shot: "a photo of a {colour} {shape}." over every shape
    (the colour is the class; shapes are the ensemble)."""
    return [f'a photo of a {{}} {shape}.' for shape in PRETRAINING_SHAPES]


def trained_token_ids() -> List[int]:
    """Token ids the pretraining captions are made of (every word the caption generator
    can write, the start / end tokens and the padding id): the only rows of the token
    embedding that training changes."""
    import open_clip
    register_builtin_clip()
    words = ['a photo of a', *SIZES, *NAMED_COLOURS, *TEXTURES, *PRETRAINING_SHAPES, '.']
    # One text per word: a caption of them all would not fit the context length.
    tokens = open_clip.get_tokenizer(BUILTIN_CLIP_MODEL)(words)
    return sorted(set(tokens.flatten().tolist()) | {0})


def pack_open_clip_weights(state_dict: Dict[str, torch.Tensor], metadata: dict) -> dict:
    """The ``clip.*`` weights of an :class:`OpenClipModel` as an open_clip state dict,
    packed (:mod:`.packing`): float16, the token embedding's trained rows only."""
    from .packing import pack_weights
    weights = {key[len('clip.'):]: value
               for key, value in state_dict.items() if key.startswith('clip.')}
    if not weights:
        raise ValueError('pack_open_clip_weights: no clip.* weights in the state dict')
    return pack_weights(weights, {'token_embedding.weight': trained_token_ids()}, metadata)


def load_builtin_clip(path: str):
    """The built-in CLIP with the weights in ``path``, through open_clip's own loader."""
    import open_clip
    register_builtin_clip()
    model = open_clip.create_model(BUILTIN_CLIP_MODEL, pretrained=osp.expanduser(path),
                                   require_pretrained=True)
    model.model_name = BUILTIN_CLIP_MODEL
    return model.eval()


def builtin_detection_params():
    """The built-in detection dataset's root and parameters, from the shapes base config."""
    from mmengine.config import Config

    from ..utils.families import REPO_ROOT
    spec = dict(Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/datasets/shapes_parts.py')).builtin_dataset)
    return spec.pop('root'), spec


def builtin_split_objects(data_root: Optional[str] = None, split: str = 'test',
                          size: int = 64):
    """:func:`~mmclipjoint.datasets.pretraining.detection_split_objects` of the built-in
    detection dataset (at ``data_root``, default its configs' root), generated first if
    needed: where the stand-ins are measured."""
    from ..datasets import ShapesParams, generate_shapes_dataset
    from ..datasets.pretraining import detection_split_objects
    default_root, params = builtin_detection_params()
    data_root = data_root or default_root
    generate_shapes_dataset(data_root, ShapesParams.from_dict(params), logger=lambda *a: None)
    return detection_split_objects(data_root, split, size)


def evaluate_builtin_clip(clip_model, data_root: Optional[str] = None, split: str = 'test',
                          crop_size: Optional[int] = None) -> dict:
    """Zero-shot top-1 of a built-in CLIP on the object crops of a detection split: over
    the six classes ("a photo of a {class}.") and over the eight named colours
    (:func:`colour_templates`). The split is generated first if needed."""
    from ..datasets.shapes import SHAPES_CLASSES
    size = crop_size or clip_model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    crops, labels, colours = builtin_split_objects(data_root, split, size)
    features = image_features(clip_model, crops)  # once, for both zero-shot tasks
    return dict(
        split=split,
        objects=int(len(labels)),
        class_top1=zero_shot_accuracy(clip_model, features, labels, SHAPES_CLASSES),
        colour_top1=zero_shot_accuracy(clip_model, features, colours, NAMED_COLOURS,
                                       colour_templates()),
        class_chance=1 / len(SHAPES_CLASSES),
        colour_chance=float(np.bincount(colours).max() / len(colours)))
