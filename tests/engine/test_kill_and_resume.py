"""A joint training run killed (SIGKILL) inside an iteration, or while a checkpoint is
being written, resumes with ``--resume`` from the last complete checkpoint, and from
there on its losses equal those of a run that was never stopped. A truncated checkpoint
file is an error naming it and the last complete one."""
import os.path as osp
import shutil
import signal

import pytest
from mmengine.runner.checkpoint import CheckpointLoader

from joint_testing import (ITERS_PER_EPOCH, JOINT_CONFIG, assert_same_losses, losses_by_iter,
                           run_tool, train, write_config)
from mmclipjoint.utils import CheckpointDamagedError

pytestmark = pytest.mark.slow  # every test here trains or starts processes

EPOCHS = 3


@pytest.fixture(scope='module')
def runs(tmp_path_factory, joint_runs):
    # The unbroken run to compare with: the shared one, of as many epochs.
    assert (joint_runs.straight / f'epoch_{EPOCHS}.pth').exists()
    return tmp_path_factory.mktemp('killed'), joint_runs.straight


def killable_config(path, **kill):
    fields = ', '.join(f'{k}={v!r}' for k, v in kill.items())
    return write_config(
        path, JOINT_CONFIG,
        custom_imports="dict(imports=['mmclipjoint', 'mmclipjoint_test_hooks'], "
                       'allow_failed_imports=False)',
        custom_hooks=f"_base_.custom_hooks + [dict(type='KillHook', {fields})]")


@pytest.mark.parametrize('kill', [dict(where='forward', at_iter=ITERS_PER_EPOCH + 3),
                                  dict(where='checkpoint', at_epoch=2)],
                         ids=['inside-an-iteration', 'while-writing-a-checkpoint'])
def test_killed_run_resumes_with_the_losses_of_an_unbroken_run(runs, tmp_path, kill):
    cwd, straight = runs
    work_dir = tmp_path / 'work'
    code, out = train(str(cwd), killable_config(tmp_path / 'kill.py', **kill), work_dir, EPOCHS,
                      check=False)
    assert code == -signal.SIGKILL, out[-3000:]
    # The epoch-2 checkpoint was never completed: its final name does not exist (the
    # partial bytes lie in a hidden temporary file), and last_checkpoint names epoch 1.
    assert not osp.exists(work_dir / 'epoch_2.pth')
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_1.pth')
    if kill['where'] == 'checkpoint':
        (partial, ) = work_dir.glob('.epoch_2.pth.*.tmp')
        assert 0 < partial.stat().st_size

    # The plain config (no kill hook) resumes from the last complete checkpoint.
    out = train(str(cwd), JOINT_CONFIG, work_dir, EPOCHS, '--resume')
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in out
    later = range(ITERS_PER_EPOCH + 1, EPOCHS * ITERS_PER_EPOCH + 1)
    assert_same_losses(losses_by_iter(straight), losses_by_iter(work_dir), later)


def test_a_truncated_checkpoint_names_itself_and_the_last_complete_one(runs, tmp_path):
    cwd, straight = runs
    folder = tmp_path / 'work'
    folder.mkdir()
    # The configs keep the newest two checkpoints: epoch 2 and 3 of the unbroken run.
    shutil.copy(straight / 'epoch_2.pth', folder / 'epoch_2.pth')
    data = (straight / 'epoch_3.pth').read_bytes()
    (folder / 'epoch_3.pth').write_bytes(data[:len(data) // 2])  # a copy cut short
    expected = (rf'{folder}/epoch_3.pth is not a complete checkpoint \(truncated or damaged: '
                rf'.*\); the newest complete checkpoint beside it is {folder}/epoch_2.pth; '
                rf'fix: resume from it \(--resume {folder}/epoch_2.pth\)')
    with pytest.raises(CheckpointDamagedError, match=expected):
        CheckpointLoader.load_checkpoint(str(folder / 'epoch_3.pth'), map_location='cpu')
    code, out = run_tool('test.py', JOINT_CONFIG, str(folder / 'epoch_3.pth'), '--work-dir',
                         str(tmp_path / 'test'), cwd=str(cwd), check=False)
    assert code != 0
    assert f'CheckpointDamagedError: {folder}/epoch_3.pth is not a complete checkpoint' in out
    assert f'beside it is {folder}/epoch_2.pth' in out
    # One error, not an unpickling traceback with it.
    assert out.count('Traceback') == 1 and 'UnpicklingError' not in out
