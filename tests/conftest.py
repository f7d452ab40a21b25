"""Fixtures shared by the tests; helpers and constants are in helpers/joint_testing.py."""
import pytest

import mmclipjoint  # noqa: F401
from joint_testing import TINY, TINY_CLIP, TINY_CLIP_CFG
from mmclipjoint.datasets import ShapesParams, generate_shapes_dataset
from mmdet.utils import register_all_modules

# Like mmdet's own tests: registries resolved in the 'mmdet' scope.
register_all_modules(init_default_scope=True)


def pytest_collection_modifyitems(config, items):
    """The files with the most slow tests first (order within a file kept): pytest-xdist
    (``--dist loadfile``) hands whole files to its workers in this order, so the long
    files start early and the short ones fill the end of the run."""
    from collections import Counter
    slow = Counter(str(item.fspath) for item in items if item.get_closest_marker('slow'))
    items.sort(key=lambda item: -slow[str(item.fspath)])


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


class JointRuns:
    """Deterministic tiny trainings of the joint Faster R-CNN (the paper's end-to-end
    config) through tools/train.py, made once per test run and shared by the tests that
    only read them (copy a file before changing it):

    - ``straight``: 3 epochs unbroken (checkpoints of epochs 2 and 3 kept);
    - ``stopped``: 1 epoch, then ``--resume`` to 2 (checkpoints of epochs 1 and 2);
      ``resume_output`` is what that resume printed.
    """

    def __init__(self, root):
        self.root = root
        self.straight = root / 'straight'
        self.stopped = root / 'stopped'
        self.resume_output = ''


@pytest.fixture(scope='session')
def joint_runs(tmp_path_factory):
    import json
    import os

    from filelock import FileLock

    from joint_testing import JOINT_CONFIG, train

    # Under pytest-xdist every worker has its own base temp; their common parent is shared,
    # and the lock makes one worker train while the others wait and then read.
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        base = base.parent
    runs = JointRuns(base / 'joint_runs')
    done = runs.root / 'done.json'
    with FileLock(str(base / 'joint_runs.lock')):
        if not done.exists():
            runs.root.mkdir(exist_ok=True)
            cwd = str(runs.root)
            train(cwd, JOINT_CONFIG, runs.straight, 3)
            train(cwd, JOINT_CONFIG, runs.stopped, 1)
            output = train(cwd, JOINT_CONFIG, runs.stopped, 2, '--resume')
            done.write_text(json.dumps(dict(resume_output=output)))
    runs.resume_output = json.loads(done.read_text())['resume_output']
    return runs
