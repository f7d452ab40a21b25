"""Reliability: exact resume, fine-tuning from a stock checkpoint, 2-process training,
and clear errors for bad input that lose nothing. Through the real tools and configs."""
import json
import math
import os.path as osp

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from joint_testing import (BASELINE_CONFIG, ITERS_PER_EPOCH, JOINT_CONFIG, YOLOX_JOINT,
                           assert_same_losses, build_runner, losses_by_iter, run_tool, scalars,
                           train, write_config)
from mmclipjoint.datasets import SHAPES_CLASSES
from mmclipjoint.models.layers.embedding_files import embedding_file_metadata, save_embedding_file

BANK = 'roi_head.bbox_head.contrastive_branch.text_bank.'


def state(path):
    return CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


@pytest.fixture(scope='module')
def cwd(tmp_path_factory):
    return str(tmp_path_factory.mktemp('reliability'))


@pytest.mark.slow
def test_resume_gives_the_losses_of_a_run_that_never_stopped(cwd, tmp_path, joint_runs):
    straight, stopped, unhooked = joint_runs.straight, joint_runs.stopped, tmp_path / 'plain'
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in joint_runs.resume_output

    expected, resumed = losses_by_iter(straight), losses_by_iter(stopped)
    later = range(ITERS_PER_EPOCH + 1, 2 * ITERS_PER_EPOCH + 1)
    assert_same_losses(expected, resumed, later)
    # Text embeddings, temperatures and the optimizer's momentum end identical.
    a, b = state(straight / 'epoch_2.pth'), state(stopped / 'epoch_2.pth')
    for key in ('embeddings', 'log_logit_scale', 'background_embedding'):
        torch.testing.assert_close(a['state_dict'][BANK + key], b['state_dict'][BANK + key])
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        torch.testing.assert_close(sa['momentum_buffer'], sb['momentum_buffer'])

    # Control: without the random-state hook mmengine re-seeds and the losses drift.
    plain_cfg = write_config(tmp_path / 'plain.py', JOINT_CONFIG, custom_hooks=[])
    train(cwd, plain_cfg, unhooked, 1)
    train(cwd, plain_cfg, unhooked, 2, '--resume')
    drifted = losses_by_iter(unhooked)
    assert any(drifted[it]['loss'] != pytest.approx(expected[it]['loss'], rel=1e-5)
               for it in later)


@pytest.mark.slow
def test_load_from_a_stock_checkpoint_reports_new_keys_and_keeps_the_bank_init(cwd, tmp_path):
    train(cwd, BASELINE_CONFIG, tmp_path / 'stock', 1)
    stock = tmp_path / 'stock' / 'epoch_1.pth'
    embeddings = torch.nn.functional.normalize(torch.randn(len(SHAPES_CLASSES), 512), dim=-1)
    emb_file = str(tmp_path / 'shapes_text.pth')
    save_embedding_file(emb_file, embeddings, embedding_file_metadata(  # as the config's CLIP
        SHAPES_CLASSES, 'mmclipjoint-shapes-clip', 'data/pretrained/mmclipjoint-shapes-clip.pt',
        ['a photo of a {}.'], None, 512))
    out = train(cwd, JOINT_CONFIG, tmp_path / 'joint', 1, options=[
        f'load_from={stock}', 'model.roi_head.bbox_head.contrastive_branch.text_bank.init=file',
        f'model.roi_head.bbox_head.contrastive_branch.text_bank.embedding_file={emb_file}',
        'optim_wrapper.optimizer.lr=0.0'])
    (line, ) = [line for line in out.splitlines() if f'load_from {stock}:' in line]
    stock_keys = state(stock)['state_dict']
    assert f'loaded {len(stock_keys)} of the model' in line
    assert '7 are new in the joint model' in line  # 3 bank + 4 projection tensors
    assert line.endswith('roi_head.bbox_head.contrastive_branch.projection, '
                         'roi_head.bbox_head.contrastive_branch.text_bank')
    assert 'WARNING' not in line
    # With lr 0 nothing moves: the bank still holds the file's embeddings (not random),
    # and the shared weights are the stock checkpoint's.
    joint = state(tmp_path / 'joint' / 'epoch_1.pth')['state_dict']
    torch.testing.assert_close(joint[BANK + 'embeddings'], embeddings)
    torch.testing.assert_close(joint['backbone.conv1.weight'], stock_keys['backbone.conv1.weight'])


@pytest.mark.slow
def test_non_finite_loss_stops_with_term_and_iteration_and_keeps_checkpoints(cwd, tmp_path):
    config = write_config(
        tmp_path / 'poison.py', JOINT_CONFIG,
        custom_imports="dict(imports=['mmclipjoint', 'mmclipjoint_test_hooks'], "
                       'allow_failed_imports=False)',
        custom_hooks="[dict(type='PoisonTextBankHook', at_iter=6), "
                     "dict(type='JointTrainingCheckHook'), dict(type='LossGuardHook'), "
                     "dict(type='RandomStateHook')]")
    work_dir = tmp_path / 'work'
    code, out = train(cwd, config, work_dir, 3, check=False)
    assert code != 0
    assert 'FloatingPointError: non-finite loss at iteration 6 (epoch 2): loss_infonce=nan' in out
    assert f'Last good checkpoint: {work_dir}/epoch_1.pth' in out
    assert not osp.exists(work_dir / 'epoch_2.pth')
    good = state(work_dir / 'epoch_1.pth')
    assert good['meta']['iter'] == ITERS_PER_EPOCH
    assert all(torch.isfinite(v).all() for v in good['state_dict'].values()
               if v.is_floating_point())


@pytest.mark.parametrize('names, problem', [
    (SHAPES_CLASSES[1:] + SHAPES_CLASSES[:1],
     r"the same names in another order \(label 0 is 'circle' in the dataset but 'square' in "
     r'the bank\)'),
    (('disc', ) + SHAPES_CLASSES[1:],
     r"different names \(only in the bank: \['disc'\], only in the dataset: \['circle'\]\)"),
])
@pytest.mark.slow
def test_bank_classes_must_match_the_dataset_in_content_and_order(
        cwd, tmp_path, monkeypatch, names, problem):
    runner = build_runner(cwd, tmp_path, monkeypatch, **{
        'model.roi_head.bbox_head.contrastive_branch.text_bank.class_names': names,
        'train_cfg.max_epochs': 1})
    with pytest.raises(ValueError, match=r'model.roi_head.bbox_head.contrastive_branch.text_bank.'
                                         r'class_names and '
                                         r"train_dataloader.dataset.metainfo\['classes'\] in .*"
                                         + problem + r'; fix: give text_bank.class_names'):
        runner.train()
    assert runner.iter == 0  # checked before the first iteration


@pytest.mark.slow
def test_one_stage_class_order_error_names_the_config_field(cwd, tmp_path, monkeypatch):
    runner = build_runner(cwd, tmp_path, monkeypatch, config=YOLOX_JOINT, **{
        'model.bbox_head.contrastive_branch.text_bank.class_names': SHAPES_CLASSES[::-1],
        'train_cfg.max_epochs': 1})
    # The bank's module path is its config field.
    with pytest.raises(ValueError, match=r'^model\.bbox_head\.contrastive_branch\.text_bank\.'
                                         r'class_names and '
                                         r'.*the same names in another order'):
        runner.train()


@pytest.mark.slow
def test_images_without_annotations_and_batches_without_positives_train(
        cwd, tmp_path, monkeypatch):
    runner = build_runner(cwd, tmp_path, monkeypatch, **{'train_cfg.max_epochs': 1})
    # Rewrite the training annotations: the first four images lose all their boxes.
    ann_file = osp.join(cwd, 'data/shapes/annotations/instances_train.json')
    coco = json.load(open(ann_file))
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] > 4]
    empty_file = str(tmp_path / 'empty.json')
    json.dump(coco, open(empty_file, 'w'))
    dataset = dict(runner.cfg.train_dataloader.dataset, ann_file=empty_file,
                   filter_cfg=dict(filter_empty_gt=False),
                   indices=[0, 1, 2, 3])  # batches of images without any object
    runner._train_dataloader = dict(runner.cfg.train_dataloader, dataset=dataset,
                                    sampler=dict(type='DefaultSampler', shuffle=False))
    runner.train()
    logged = [r for r in scalars(str(tmp_path / 'work')) if 'loss' in r]
    assert [r['iter'] for r in logged] == [1, 2]
    for record in logged:
        assert record['loss_infonce'] == 0.0  # no positive: a finite zero
        assert math.isfinite(record['loss']) and record['loss_aux_ce'] > 0  # background


@pytest.mark.slow
def test_amp_on_cpu_is_a_clear_error(cwd):
    code, out = run_tool('train.py', JOINT_CONFIG, '--amp', cwd=cwd, check=False)
    assert code != 0
    assert '--amp (mixed precision) needs a CUDA GPU' in out and 'Fix: run without --amp' in out
    assert 'Traceback' not in out


def test_contrastive_logits_stay_float32_under_autocast():
    from mmclipjoint.models import TextEmbeddingBank
    bank = TextEmbeddingBank(class_names=['a', 'b'], init='random')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = bank(torch.randn(3, 512).bfloat16())
    assert logits.dtype == torch.float32


def test_channels_last_hook_keeps_the_computation_and_its_configs_use_it():
    """ChannelsLastHook turns the model's 4-D weights (and so its maps) channels-last
    before the run; losses and gradients stay those of the NCHW model. The YOLO11
    configs list it after their EMA hook (it runs first: priority VERY_HIGH)."""
    import copy
    from types import SimpleNamespace

    from mmengine.config import Config
    from mmengine.registry import HOOKS
    from mmengine.structures import InstanceData

    from joint_testing import YOLO11_JOINT, build_detector
    from mmdet.structures import DetDataSample
    cfg = Config.fromfile(YOLO11_JOINT)
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'ChannelsLastHook' in hooks
    hook = HOOKS.build(dict(type='ChannelsLastHook'))
    assert hook.priority == 'VERY_HIGH'
    model = build_detector(YOLO11_JOINT)
    reference = copy.deepcopy(model)
    hook.before_run(SimpleNamespace(model=model))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert any(not c.weight.is_contiguous() for c in convs)  # a real change of layout
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 96, 96, generator=generator)
    samples = []
    for _ in range(2):
        sample = DetDataSample(metainfo=dict(img_shape=(96, 96), pad_shape=(96, 96),
                                             batch_input_shape=(96, 96)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 12., 50., 60.]]),
                                           labels=torch.tensor([1]))
        samples.append(sample)
    totals = []
    for detector in (reference, model):
        detector.train()
        torch.manual_seed(0)  # the branch samples its background cells
        losses = detector.loss(images, copy.deepcopy(samples))
        total = sum(v for k, v in losses.items() if 'loss' in k)
        total.backward()
        totals.append(total.detach())
    assert torch.allclose(totals[0], totals[1], rtol=1e-4)
    # Gradients equal up to float rounding (summed in another order through ~100 layers):
    # all of them within 1e-3 relative, each within 1e-3 of its own norm or, for the few
    # that are rounding noise themselves (norms ~1e-8: biases whose gradients cancel),
    # within 1e-6 of the whole gradient's norm.
    pairs = [(name, a.grad, b.grad) for (name, a), (_, b)
             in zip(reference.named_parameters(), model.named_parameters())
             if a.grad is not None]
    whole = torch.cat([a.flatten() for _, a, _ in pairs]).norm()
    difference = torch.cat([(a - b).flatten() for _, a, b in pairs]).norm()
    assert difference <= 1e-3 * whole
    for name, a, b in pairs:
        assert (a - b).norm() <= max(1e-3 * a.norm(), 1e-6 * whole), name
