"""mmclipjoint.utils.upstream: each adapter over a private MMEngine / MMDetection API
reads the installed version right, and says clearly when the upstream changed."""
import pytest
import torch
import torch.nn as nn
from mmengine.dataset import BaseDataset, ConcatDataset, RepeatDataset
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from joint_testing import GRID_FEATS, GRID_METAS, RTMDET_HEAD, build_head, capture, gt
from mmclipjoint.utils import upstream
from mmdet.models.dense_heads import RTMDetSepBNHead


class _Model(nn.Module):

    def forward(self, *args, **kwargs):
        return {}


@pytest.mark.parametrize('load_from, resume', [(None, False), ('a.pth', False),
                                               ('a.pth', True), (None, True)])
def test_the_runner_arguments_are_read_back(tmp_path, load_from, resume):
    runner = Runner(model=_Model(), work_dir=str(tmp_path), load_from=load_from, resume=resume,
                    experiment_name=f'upstream_{load_from}_{resume}', default_scope='mmdet')
    assert upstream.runner_load_from(runner) == load_from
    assert upstream.runner_resumes(runner) is resume


def test_a_runner_without_those_attributes_is_a_clear_error():
    with pytest.raises(upstream.UpstreamChangedError,
                       match=r'Runner has no _load_from \(read from mmengine 0\.10\.7, '
                             r'installed .*\); fix: .*mmclipjoint/utils/upstream\.py'):
        upstream.runner_load_from(object())
    with pytest.raises(upstream.UpstreamChangedError, match='Runner has no _resume'):
        upstream.runner_resumes(object())


class _Sized(BaseDataset):

    def __init__(self, n):
        self.n = n
        super().__init__(serialize_data=False)

    def load_data_list(self):
        return [dict(i=i) for i in range(self.n)]


def test_concat_and_repeat_indices_equal_mmengines_own():
    """The public-attribute versions agree with the wrappers' private
    ``_get_ori_dataset_idx`` on every index, negative ones included."""
    concat = ConcatDataset([_Sized(3), _Sized(1), _Sized(4)])
    for index in range(-len(concat), len(concat)):
        assert upstream.concat_source_index(concat, index) == \
            concat._get_ori_dataset_idx(index), index
    repeat = RepeatDataset(_Sized(5), times=3)
    for index in range(15):
        assert upstream.repeat_source_index(repeat, index) == \
            repeat._get_ori_dataset_idx(index), index


def test_rtmdet_targets_are_read_by_name(monkeypatch):
    head = build_head(RTMDET_HEAD)
    feats = [torch.randn(s) for s in GRID_FEATS]
    gts = [gt([[2, 2, 30, 30]], [2]), gt([[10, 30, 40, 60]], [1])]
    returned = []
    capture(monkeypatch, RTMDetSepBNHead, 'get_targets', returned)
    head.loss_by_feat(*head(feats), gts, GRID_METAS)
    (_, _, targets), = returned
    labels, weights = upstream.rtmdet_labels_and_weights(targets)
    assert len(labels) == len(weights) == len(GRID_FEATS)  # one per level
    for level, (b, _, h, w) in enumerate(GRID_FEATS):
        assert labels[level].shape == weights[level].shape == (b, h * w)
    flat = torch.cat(labels, 1)
    assert set(flat[0][flat[0] < 3].tolist()) == {2} and set(flat[1][flat[1] < 3].tolist()) == {1}
    with pytest.raises(upstream.UpstreamChangedError,
                       match=r'RTMDetHead.get_targets no longer returns the tuple .*'
                             r'read from mmdet 3\.3\.0'):
        upstream.rtmdet_labels_and_weights(targets[:5])
    with pytest.raises(upstream.UpstreamChangedError):
        upstream.rtmdet_labels_and_weights((targets[0], targets[3], *targets[2:]))


def test_the_training_iteration_comes_from_the_current_message_hub():
    hub = MessageHub.get_instance('test_upstream_iteration')  # now the current instance
    assert upstream.current_train_iteration() is None
    hub.update_info('iter', 41)
    assert upstream.current_train_iteration() == 41


def test_config_text_without_formatting_is_the_same_config():
    from mmengine.config import Config

    from joint_testing import JOINT_CONFIG
    formatted = Config.fromfile(JOINT_CONFIG)
    plain = upstream.without_text_formatting(Config.fromfile(JOINT_CONFIG))
    assert plain.pretty_text != formatted.pretty_text
    again = Config.fromstring(plain.pretty_text, '.py')
    assert again.to_dict() == formatted.to_dict()
    with pytest.raises(upstream.UpstreamChangedError, match='Config has no _format_python_code'):
        upstream.without_text_formatting(object())
