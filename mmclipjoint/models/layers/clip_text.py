"""Class names as CLIP reads them, and their text embeddings from open_clip.

``encode_class_names`` loads an open_clip model once, on the CPU, encodes the prompts
("a photo of a {class}." or an ensemble of templates, averaged) with its text tower and
returns L2-normalised embeddings; the model is dropped afterwards.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F

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

# The built-in CLIP (mmclipjoint.pretraining.clip): an open_clip model config of this
# package, registered with open_clip before any model is created by name.
BUILTIN_CLIP_MODEL = 'mmclipjoint-shapes-clip'
_OPEN_CLIP_CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), 'open_clip_configs')


def register_builtin_clip() -> None:
    """Make open_clip know this package's model configs (``open_clip_configs/*.json``)
    by name, e.g. :data:`BUILTIN_CLIP_MODEL`; idempotent."""
    import open_clip
    if BUILTIN_CLIP_MODEL not in open_clip.list_models():
        open_clip.add_model_config(_OPEN_CLIP_CONFIGS)


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
    register_builtin_clip()
    local = bool(pretrained) and osp.isfile(osp.expanduser(pretrained))
    if model == BUILTIN_CLIP_MODEL and not local:
        raise FileNotFoundError(
            f'clip.pretrained of the built-in CLIP {model!r} must be its weights file, and '
            f'{pretrained!r} is not a file; fix: list the file in the config\'s '
            f"builtin_weights (tools/train.py makes it on first use), or build it with "
            f'python tools/train_builtin_clip.py')
    if local:
        pretrained = osp.expanduser(pretrained)
    # Creating the model draws its random initialisation (then overwritten by the weights)
    # from the global generator: fork it, so that a run draws the same random numbers
    # whether its embeddings come from here or from the cache.
    with torch.random.fork_rng(devices=[]):
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
