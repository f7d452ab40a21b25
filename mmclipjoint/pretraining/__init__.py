"""Pretraining for the built-in stand-ins of CLIP and the ImageNet backbones.

Importing this package registers :class:`~.clip.CaptionedObjects` and
:class:`~.clip.OpenClipModel` in MMDetection's registries (the configs under
``configs/pretraining`` import it with ``custom_imports``).
"""
from .clip import (CaptionedObjects, OpenClipModel, colour_templates, image_features,
                   load_builtin_clip, pack_open_clip_weights, zero_shot_accuracy)

__all__ = [
    'CaptionedObjects', 'OpenClipModel', 'colour_templates', 'pack_open_clip_weights',
    'image_features', 'load_builtin_clip', 'zero_shot_accuracy'
]
