"""mmclipjoint.utils.tools: what the tool wrappers do before MMDetection's tools run."""
import os

from mmengine.config import Config

from joint_testing import JOINT_CONFIG
from mmclipjoint.utils.tools import configs_parsed_once


def test_a_config_is_parsed_once_per_tool_run_and_each_caller_gets_its_own_copy(monkeypatch):
    parses = []
    original = Config.fromfile

    def counting(filename, *args, **kwargs):
        parses.append(filename)
        return original(filename, *args, **kwargs)

    monkeypatch.setattr(Config, 'fromfile', staticmethod(counting))
    monkeypatch.delenv('MMCLIPJOINT_FORMAT_CONFIG', raising=False)
    with configs_parsed_once():
        first = Config.fromfile(JOINT_CONFIG)
        first.merge_from_dict({'train_cfg.max_epochs': 1})  # what a tool does with its copy
        second = Config.fromfile(os.path.relpath(JOINT_CONFIG))
    assert len(parses) == 1
    assert second.train_cfg.max_epochs == 12 and first.train_cfg.max_epochs == 1
    assert second.pretty_text == original(JOINT_CONFIG).pretty_text  # formatted by default
    Config.fromfile(JOINT_CONFIG)  # outside the block: parsed again
    assert len(parses) == 2


def test_unformatted_config_text_on_request(monkeypatch):
    monkeypatch.setenv('MMCLIPJOINT_FORMAT_CONFIG', '0')
    with configs_parsed_once():
        plain = Config.fromfile(JOINT_CONFIG)
    formatted = Config.fromfile(JOINT_CONFIG)
    assert plain.pretty_text != formatted.pretty_text
    assert Config.fromstring(plain.pretty_text, '.py').to_dict() == formatted.to_dict()
