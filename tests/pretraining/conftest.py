"""Shared fixtures of the pretraining tests."""
import pytest

from mmclipjoint.datasets import ShapesParams, generate_shapes_dataset


@pytest.fixture(scope='session')
def detection_root(tmp_path_factory):
    """The built-in detection dataset as the configs generate it (the test split's
    object crops are where the stand-ins are measured)."""
    from mmclipjoint.pretraining.clip import builtin_detection_params
    _, params = builtin_detection_params()
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes_dataset(root, ShapesParams.from_dict(params), logger=lambda *a: None)
    return root
