"""CLIP-Joint-Detect for MMDetection 3.x.

Importing this package registers its modules in MMDetection's registries and makes
mmengine load local training checkpoints under torch >= 2.6 (see
:mod:`mmclipjoint.utils.checkpoint`). Configs do it with
``custom_imports = dict(imports=['mmclipjoint'], allow_failed_imports=False)``.
"""
from . import datasets, engine, models, utils  # noqa: F401
from .version import __version__  # noqa: F401
