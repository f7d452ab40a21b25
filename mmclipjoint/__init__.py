"""CLIP-Joint-Detect for MMDetection 3.x.

Importing this package registers its modules in MMDetection's registries and makes
mmengine load local checkpoints safely and write them atomically (see
:mod:`mmclipjoint.utils.checkpoint`). Configs do it with
``custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)``.
"""
from . import datasets, engine, models, utils  # noqa: F401
from .version import __version__  # noqa: F401
