"""Fixtures shared by the tests; helpers and constants are in helpers/joint_testing.py."""
import pytest

import mmclipjoint  # noqa: F401
from joint_testing import TINY, TINY_CLIP, TINY_CLIP_CFG
from mmclipjoint.datasets import ShapesParams, generate_shapes_dataset
from mmdet.utils import register_all_modules

# Like mmdet's own tests: registries resolved in the 'mmdet' scope.
register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """A generated shapes dataset with imbalance and noise, and its meta.json."""
    root = str(tmp_path_factory.mktemp('shapes') / 'data')
    params = ShapesParams(**TINY, imbalance_ratio=4.0, label_noise=0.25, seed=3)
    meta = generate_shapes_dataset(root, params)
    return root, params, meta


@pytest.fixture(scope='session')
def tiny_clip_checkpoint(tmp_path_factory):
    """(model name, local checkpoint path) of a registered tiny open_clip model."""
    import json

    import open_clip
    import torch
    folder = tmp_path_factory.mktemp('clip')
    with open(folder / f'{TINY_CLIP}.json', 'w') as f:
        json.dump(TINY_CLIP_CFG, f)
    open_clip.add_model_config(str(folder / f'{TINY_CLIP}.json'))
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_CLIP, pretrained=None)
    path = str(folder / 'tiny_clip.pt')
    torch.save(model.state_dict(), path)
    return TINY_CLIP, path
