"""Loading a checkpoint never runs code from it.

A "pretrained" checkpoint whose ``meta`` holds an object with a ``__reduce__`` that runs a
shell command is refused at every entry point of the package (load_from, --resume,
tools/test.py, the image demo, the DetInferencer helper, the stock export, the Ultralytics
converter, text-embedding files); the file its command would create never exists. The
checkpoints that training of each of the four families writes hold only allowed types,
load, and resume exactly. Trusting a file is explicit.
"""
import fractions
import os
import os.path as osp
import pickle
import re
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader

from joint_testing import (ITERS_PER_EPOCH, JOINT_CONFIG, RTMDET_JOINT, YOLO11_JOINT, YOLOX_JOINT,
                           assert_same_losses, losses_by_iter, run_tool, train)
from mmclipjoint.utils import (CheckpointRefusedError, load_checkpoint_file, load_local_checkpoint,
                               trust_checkpoint)
from mmclipjoint.utils.checkpoint import TRUST_ENV, safe_global_names


class RunsCommand:
    """Unpickling this runs ``touch <marker>`` (``os.system``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class WritesThroughGetattr:
    """Unpickling this fetches an array's ``tofile`` with ``builtins.getattr`` and calls it:
    a payload made only of numpy, which the allow-list admits, and getattr."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return np.arange(3).tofile, (self.marker, )


@pytest.fixture(scope='module')
def trained(tmp_path_factory, joint_runs):
    """A checkpoint of the joint Faster R-CNN written by tools/train.py (the shared run's
    first epoch), and a hostile copy of it: the same weights, with a command in its meta."""
    cwd = tmp_path_factory.mktemp('safe_load')
    real = joint_runs.stopped / 'epoch_1.pth'
    marker = cwd / 'PAYLOAD_RAN'
    checkpoint = load_checkpoint_file(str(real))
    checkpoint['meta']['pretrained_from'] = RunsCommand(marker)
    hostile = cwd / 'pretrained.pth'
    torch.save(checkpoint, hostile)
    return cwd, real, hostile, marker


def refusal(hostile, refused='posix.system'):
    return (f'{hostile}: refused to load: it holds {refused}, which is not among the types '
            f'that mmengine / MMDetection / mmclipjoint checkpoints contain')


def run_load_from(cwd, hostile, tmp_path):
    return train(str(cwd), JOINT_CONFIG, tmp_path / 'w', 1, options=[f'load_from={hostile}'],
                 check=False)


def run_resume(cwd, hostile, tmp_path):
    return train(str(cwd), JOINT_CONFIG, tmp_path / 'w', 2, '--resume', str(hostile), check=False)


def run_test_tool(cwd, hostile, tmp_path):
    return run_tool('test.py', JOINT_CONFIG, str(hostile), '--work-dir', str(tmp_path / 'w'),
                    cwd=str(cwd), check=False)


def run_image_demo(cwd, hostile, tmp_path):
    image = next((cwd / 'data/shapes/VOC2007/JPEGImages').glob('val_*.jpg'))
    return run_tool('image_demo.py', str(image), JOINT_CONFIG, '--weights', str(hostile),
                    '--out-dir', str(tmp_path / 'out'), '--device', 'cpu', cwd=str(cwd),
                    check=False)


def run_export(cwd, hostile, tmp_path):
    return run_tool('export_stock_model.py', JOINT_CONFIG, str(hostile), '--out-dir',
                    str(tmp_path / 'out'), cwd=str(cwd), check=False)


@pytest.mark.slow
@pytest.mark.parametrize('entry_point', [run_load_from, run_resume, run_test_tool,
                                         run_image_demo, run_export],
                         ids=['load_from', 'resume', 'tools/test.py', 'image_demo', 'export'])
def test_a_hostile_checkpoint_is_refused_by_the_tools_and_its_payload_never_runs(
        trained, tmp_path, entry_point):
    cwd, _, hostile, marker = trained
    code, out = entry_point(cwd, hostile, tmp_path)
    assert code != 0
    assert refusal(hostile) in out
    assert 'nothing in it has been run. Fix: only if you trust this file' in out
    assert f'{TRUST_ENV}={hostile}' in out and '--trust-checkpoint' in out
    assert not marker.exists()
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())


@pytest.mark.slow
def test_the_inferencer_helper_refuses_a_hostile_checkpoint(trained):
    from mmclipjoint.utils.inference import build_inferencer
    _, _, hostile, marker = trained
    with pytest.raises(CheckpointRefusedError, match=re.escape(refusal(hostile))):
        build_inferencer(Config.fromfile(JOINT_CONFIG), str(hostile), 'cpu')
    assert not marker.exists()


@pytest.mark.slow
def test_the_converter_refuses_a_hostile_state_dict(trained, tmp_path):
    cwd, _, _, marker = trained
    hostile = tmp_path / 'yolo11n.pt'
    torch.save({'model.0.conv.weight': torch.zeros(1), 'names': RunsCommand(marker)}, hostile)
    code, out = run_tool('convert_ultralytics_yolo.py', str(hostile), str(tmp_path / 'out.pth'),
                         cwd=str(cwd), check=False)
    assert code != 0 and refusal(hostile) in out and 'converted only with --trust-checkpoint' in out
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()


@pytest.mark.slow
def test_a_hostile_embedding_file_is_refused(trained, tmp_path):
    from mmclipjoint.models import TextEmbeddingBank
    _, _, _, marker = trained
    hostile = tmp_path / 'embeddings.pth'
    torch.save(dict(embeddings=torch.zeros(2, 8), class_names=RunsCommand(marker)), hostile)
    bank = TextEmbeddingBank(class_names=['a', 'b'], embed_dims=8, init='file',
                             embedding_file=str(hostile))
    with pytest.raises(CheckpointRefusedError, match=re.escape(refusal(hostile))):
        bank.init_weights()  # where the bank reads its file
    assert not marker.exists()


def test_a_payload_through_getattr_is_refused(tmp_path):
    marker = tmp_path / 'WRITTEN'
    hostile = tmp_path / 'getattr.pth'
    torch.save(dict(state_dict={}, meta=dict(x=WritesThroughGetattr(marker))), hostile)
    with pytest.raises(CheckpointRefusedError, match=re.escape(refusal(
            hostile, "builtins.getattr(ndarray object, 'tofile')"))):
        CheckpointLoader.load_checkpoint(str(hostile))
    assert not marker.exists()
    # Under the name builtins.getattr the allow-list holds a stand-in that fetches only
    # what HistoryBuffer pickles by reference.
    from mmengine.logging import HistoryBuffer

    from mmclipjoint.utils.checkpoint import _checkpoint_getattr
    assert _checkpoint_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    for obj, name in ((HistoryBuffer, '__init__'), (np.arange(3), 'tofile'), (os, 'system')):
        with pytest.raises(pickle.UnpicklingError, match='unsupported call builtins.getattr'):
            _checkpoint_getattr(obj, name)


def test_a_trusted_file_loads_fully_only_when_the_user_says_so(tmp_path, monkeypatch):
    path = tmp_path / 'other.pth'
    torch.save(dict(state_dict={}, meta=dict(ratio=fractions.Fraction(1, 3))), path)
    refused = re.escape(refusal(path, 'fractions.Fraction'))
    with pytest.raises(CheckpointRefusedError, match=refused):
        load_local_checkpoint(str(path))
    trusted = load_checkpoint_file(str(path), trusted=True)
    assert trusted['meta']['ratio'] == fractions.Fraction(1, 3)
    monkeypatch.setenv(TRUST_ENV, str(tmp_path / 'another.pth'))
    with pytest.raises(CheckpointRefusedError):  # another file is trusted, not this one
        load_local_checkpoint(str(path))
    trust_checkpoint(str(path))  # what --trust-checkpoint does: names the file
    assert os.environ[TRUST_ENV].split(os.pathsep) == [str(tmp_path / 'another.pth'), str(path)]
    assert load_local_checkpoint(str(path))['meta']['ratio'] == fractions.Fraction(1, 3)


def assert_only_allowed_types(path):
    found = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    assert found <= safe_global_names(), found - safe_global_names()
    checkpoint = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert {'state_dict', 'optimizer', 'message_hub', 'meta'} <= set(checkpoint)
    assert 0 in checkpoint['meta']['rng_state']


@pytest.mark.slow
def test_faster_rcnn_training_checkpoints_hold_only_allowed_types(trained):
    assert_only_allowed_types(trained[1])  # its exact resume: tests/engine/test_hooks.py


@pytest.mark.slow
@pytest.mark.parametrize('config', [YOLOX_JOINT, RTMDET_JOINT, YOLO11_JOINT],
                         ids=['yolox', 'rtmdet', 'yolo11'])
def test_one_stage_training_checkpoints_hold_only_allowed_types_and_resume_exactly(
        tmp_path, config):
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    train(str(tmp_path), config, straight, 2)
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        assert_only_allowed_types(straight / name)
    # Resume from the epoch-1 checkpoint in a folder of its own.
    resumed.mkdir()
    shutil.copy(straight / 'epoch_1.pth', resumed / 'epoch_1.pth')
    (resumed / 'last_checkpoint').write_text(str(resumed / 'epoch_1.pth'))
    out = train(str(tmp_path), config, resumed, 2, '--resume')
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in out
    assert_same_losses(losses_by_iter(straight), losses_by_iter(resumed),
                       range(ITERS_PER_EPOCH + 1, 2 * ITERS_PER_EPOCH + 1))
    assert osp.isfile(resumed / 'epoch_2.pth')
