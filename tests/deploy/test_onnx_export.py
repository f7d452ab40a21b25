"""tools/export_onnx.py, tools/onnx_demo.py and tools/test_onnx.py on trained tiny models of
the four built-in families (their pretrained-backbone joint configs), stock and fused:
standard ONNX ops only; the raw outputs equal PyTorch's; the detections with NMS in the
graph match mmdet's own predictions at two image sizes in batches of two; the ONNX
model's COCO mAP equals PyTorch's; the demo runs without torch, mmcv or mmdet."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from joint_testing import REPO, run_tool, train

pytestmark = pytest.mark.slow  # every test here trains or exports

CONFIGS = {
    'faster-rcnn': 'configs/clip_joint/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint_8e_shapes.py',
    'yolox': 'configs/clip_joint/yolox_tiny_clip-joint_12e_shapes.py',  # no packed backbone
    'rtmdet': 'configs/clip_joint/rtmdet_tiny_crops-pre_clip-joint_12e_shapes.py',
    'yolo11': 'configs/clip_joint/yolo11_n_crops-pre_clip-joint_24e_shapes.py',
}
HEAD = {'faster-rcnn': 'model.roi_head.bbox_head'}
# Small, but trained long enough that scores are distinct and the mAP is not zero.
DATA = ['builtin_dataset.image_size=96', 'builtin_dataset.num_train=16',
        'builtin_dataset.num_val=4', 'builtin_dataset.num_test=12']
# 24 iterations without warm-up (the configs' 100-iteration linear warm-up would leave
# the models near their initialisation); YOLOX, from scratch, diverges without it and
# takes 120 iterations, and a lower score threshold, to detect anything.
EPOCHS = {'faster-rcnn': 6, 'yolox': 30, 'rtmdet': 6, 'yolo11': 6}
NO_WARMUP = ['param_scheduler.0.start_factor=1.0']
TRAIN_OPTIONS = {'faster-rcnn': NO_WARMUP, 'yolox': [], 'rtmdet': NO_WARMUP, 'yolo11': []}
MODEL_OPTIONS = {'yolox': ['model.test_cfg.score_thr=0.001']}
FAMILIES = pytest.mark.parametrize('family', list(CONFIGS))
MODES = pytest.mark.parametrize('inference', ['stock', 'fused'])


def inference_option(family, inference):
    return f"{HEAD.get(family, 'model.bbox_head')}.contrastive_branch.inference={inference}"


class TrainedModels:
    """``trained[family]`` is (config, checkpoint, data folder): the family's joint config
    trained on the tiny data the first time a test asks for it in this test run (a lock
    per family: pytest-xdist workers train different families at once, and share them)."""

    def __init__(self, base):
        self.base = base

    def __getitem__(self, family):
        from filelock import FileLock
        root = self.base / 'onnx_models'
        config = osp.join(REPO, CONFIGS[family])
        checkpoint = root / family / f'epoch_{EPOCHS[family]}.pth'
        with FileLock(str(self.base / f'onnx_models_{family}.lock')):
            if not checkpoint.exists():
                root.mkdir(exist_ok=True)
                train(str(root), config, root / family, EPOCHS[family],
                      options=options(family) + TRAIN_OPTIONS[family] +
                      ['train_dataloader.batch_size=4'])
        return config, str(checkpoint), str(root)


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        base = base.parent
    return TrainedModels(base)


def options(family, *more):
    """The config overrides of a family's fixture (data, test settings) and ``more``."""
    return DATA + MODEL_OPTIONS.get(family, []) + list(more)


def load_config(family, *more):
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[family]))
    for option in options(family, *more):
        key, value = option.split('=', 1)
        cfg.merge_from_dict({key: DictAction._parse_iterable(value)})
    return cfg


def export(trained, family, inference, out, raw=False):
    from mmclipjoint.deploy.onnx_export import export_onnx
    config, checkpoint, _ = trained[family]
    cfg = load_config(family, inference_option(family, inference))
    export_onnx(cfg, checkpoint, str(out), raw=raw, config_name=config)
    return cfg, checkpoint


def images(trained, family, split='test', count=4):
    folder = osp.join(trained[family][2], 'data', 'shapes', 'VOC2007', 'JPEGImages')
    names = sorted(n for n in os.listdir(folder) if n.startswith(split))[:count]
    return [cv2.imread(osp.join(folder, n)) for n in names]


def pytorch_detector(cfg, checkpoint, size):
    from mmdet.apis import init_detector
    cfg = cfg.copy()
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (size, size)
    cfg.test_pipeline = cfg.test_dataloader.dataset.pipeline
    return init_detector(cfg, checkpoint, device='cpu')


def onnx_detector(path, size):
    from mmclipjoint.deploy.onnx_runtime import OnnxDetector
    detector = OnnxDetector(str(path))
    for step in detector.meta['preprocess']['steps']:
        if step['type'] == 'Resize':
            step['scale'] = [size, size]
    return detector


def assert_top_detections_match(expected, result, top=20):
    """Each of mmdet's ``top`` best detections has an ONNX detection of the same label,
    IoU > 0.999 and score within 1e-4 (matched one to one, best first)."""
    from mmclipjoint.deploy.evaluation import matched_top_detections
    count = min(top, len(expected.scores))
    assert count > 0, 'the model detects nothing: the comparison would be empty'
    assert matched_top_detections(expected, result, top) == count, (
        expected[:count], {k: v[:count + 5] for k, v in result.items()})


@FAMILIES
@MODES
def test_detections_match_mmdet_at_two_sizes_in_batches_of_two(
        trained, tmp_path, family, inference):
    import onnx

    from mmdet.apis import inference_detector
    path = tmp_path / 'model.onnx'
    cfg, checkpoint = export(trained, family, inference, path)
    graph = onnx.load(str(path))
    assert {node.domain for node in graph.graph.node} <= {'', 'ai.onnx'}, 'custom ops in the graph'
    ops = {node.op_type for node in graph.graph.node}
    assert 'NonMaxSuppression' in ops
    meta = json.loads({p.key: p.value for p in graph.metadata_props}['mmclipjoint'])
    assert meta['classes'] == ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross']
    assert meta['inference'] == [inference]
    # The fused graph carries the branch: its class embeddings (6 or 7 x 512) are constants.
    bank_like = [list(init.dims) for init in graph.graph.initializer
                 if len(init.dims) == 2 and init.dims[1] == 512 and init.dims[0] in (6, 7)]
    assert bool(bank_like) == (inference == 'fused'), bank_like
    pictures = images(trained, family)
    for size in (96, 128):
        model = pytorch_detector(cfg, checkpoint, size)
        detector = onnx_detector(path, size)
        for start in (0, 2):
            batch = pictures[start:start + 2]
            results = detector(batch)  # one ONNX Runtime call, batch of two
            for image, result in zip(batch, results):
                expected = inference_detector(model, image).pred_instances
                assert_top_detections_match(expected, result)


@pytest.mark.parametrize('family', ['yolox', 'rtmdet', 'yolo11'])
@MODES
def test_raw_outputs_equal_pytorch(trained, tmp_path, family, inference):
    import onnxruntime as ort

    from mmclipjoint.deploy.onnx_export import pytorch_outputs
    path = tmp_path / 'raw.onnx'
    cfg, checkpoint = export(trained, family, inference, path, raw=True)
    session = ort.InferenceSession(str(path))
    names = [o.name for o in session.get_outputs()]
    assert names == (['output0'] if family == 'yolo11' else ['boxes', 'scores'])
    for size in (96, 128):
        pictures = [cv2.resize(im, (size, size)) for im in images(trained, family, count=2)]
        batch = np.stack(pictures).transpose(0, 3, 1, 2).astype(np.float32)
        got = session.run(None, {'images': batch})
        expected = pytorch_outputs(cfg, checkpoint, torch.from_numpy(batch), raw=True)
        assert len(got) == len(expected)
        if family == 'yolo11':  # Ultralytics' layout: (B, 4 + C, A), boxes cx, cy, w, h
            anchors = sum((size // s) ** 2 for s in (8, 16, 32))
            assert got[0].shape == (2, 4 + 6, anchors)
            assert (got[0][:, 2:4] >= 0).all() and (got[0][:, 4:] <= 1).all()
            got = [got[0][:, :4], got[0][:, 4:]]
            expected = [expected[0][:, :4], expected[0][:, 4:]]
        (boxes, scores), (ref_boxes, ref_scores) = got, expected
        assert boxes.shape == tuple(ref_boxes.shape) and scores.shape == tuple(ref_scores.shape)
        np.testing.assert_allclose(scores, ref_scores.numpy(), atol=1e-4, rtol=0)
        # Box coordinates: corners are centre -/+ distance, and an untrained model's
        # distances run to hundreds of pixels; float32 rounding of those is the limit.
        scale = float(ref_boxes.abs().max())
        np.testing.assert_allclose(boxes, ref_boxes.numpy(), atol=1e-4 + 4e-6 * scale, rtol=0)


@FAMILIES
def test_onnx_map_equals_pytorch_map(trained, tmp_path, family):
    config, checkpoint, cwd = trained[family]
    path = tmp_path / 'model.onnx'
    export(trained, family, 'fused', path)
    option = inference_option(family, 'fused')
    run_tool('test.py', config, checkpoint, '--work-dir', str(tmp_path / 'test'),
             '--cfg-options', *options(family, option), cwd=cwd)
    (log, ) = [osp.join(r, f) for r, _, fs in os.walk(tmp_path / 'test') for f in fs
               if f.endswith('.json') and 'vis_data' not in r]
    expected = json.loads(open(log).read().splitlines()[-1])
    out = tmp_path / 'onnx_metrics.json'
    printed = run_tool('test_onnx.py', config, str(path), '--split', 'test', '--batch-size', '2',
                       '--checkpoint', checkpoint, '--out', str(out), '--cfg-options',
                       *options(family, option), cwd=cwd)
    metrics = json.loads(out.read_text())
    assert expected['coco/bbox_mAP'] > 0, 'an untrained fixture: the comparison is empty'
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert abs(metrics[key] - expected[key]) <= 0.002, key
        assert metrics['pytorch'][key] == pytest.approx(expected[key], abs=1e-9), key
    assert metrics['top_compared'] > 0 and metrics['top_matched'] == metrics['top_compared']
    assert 'top-20 detections reproduced' in printed


# Block torch, mmcv and mmdet (an import of any raises ImportError) and run the demo.
WITHOUT_TORCH = '''
import runpy, sys
for name in ('torch', 'mmcv', 'mmdet', 'mmengine', 'mmclipjoint', 'mmdeploy'):
    sys.modules[name] = None
sys.argv = ['onnx_demo.py'] + sys.argv[1:]
runpy.run_path({demo!r}, run_name='__main__')
'''


def test_onnx_demo_runs_without_torch_and_draws_what_the_pytorch_demo_predicts(
        trained, tmp_path):
    config, checkpoint, cwd = trained['rtmdet']
    path = tmp_path / 'model.onnx'
    run_tool('export_onnx.py', config, checkpoint, '--out', str(path), cwd=cwd)
    image = osp.join(cwd, 'data', 'shapes', 'VOC2007', 'JPEGImages', 'test_00000.jpg')
    script = WITHOUT_TORCH.format(demo=osp.join(REPO, 'tools', 'onnx_demo.py'))
    proc = subprocess.run([sys.executable, '-c', script, image, str(path), '--out-dir',
                           str(tmp_path / 'onnx'), '--pred-score-thr', '0.05'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert cv2.imread(str(tmp_path / 'onnx' / 'vis' / 'test_00000.jpg')) is not None
    onnx_preds = json.load(open(tmp_path / 'onnx' / 'preds' / 'test_00000.json'))
    run_tool('image_demo.py', image, config, '--weights', checkpoint, '--out-dir',
             str(tmp_path / 'torch'), '--device', 'cpu', '--cfg-options', *options('rtmdet'),
             cwd=cwd)
    torch_preds = json.load(open(tmp_path / 'torch' / 'preds' / 'test_00000.json'))
    top = [i for i, s in enumerate(torch_preds['scores']) if s >= 0.05][:20]
    assert top, 'nothing to compare'
    for i in top:
        j = int(np.argmin([abs(s - torch_preds['scores'][i]) for s in onnx_preds['scores']]))
        assert onnx_preds['labels'][j] == torch_preds['labels'][i]
        assert abs(onnx_preds['scores'][j] - torch_preds['scores'][i]) < 1e-4
        np.testing.assert_allclose(onnx_preds['bboxes'][j], torch_preds['bboxes'][i],
                                   atol=0.05)


def test_bad_inputs_are_refused_with_the_fix(trained, tmp_path):
    config, checkpoint, cwd = trained['faster-rcnn']
    code, output = run_tool('export_onnx.py', config, checkpoint, '--out',
                            str(tmp_path / 'raw.onnx'), '--raw', cwd=cwd, check=False)
    assert code != 0 and '--raw is for one-stage detectors' in output
    code, output = run_tool('export_onnx.py', config, checkpoint, '--out',
                            str(tmp_path / 'model.bin'), cwd=cwd, check=False)
    assert code != 0 and 'must end with .onnx' in output
    yolox_checkpoint = trained['yolox'][1]
    code, output = run_tool('export_onnx.py', config, yolox_checkpoint, '--out',
                            str(tmp_path / 'm.onnx'), cwd=cwd, check=False)
    assert code != 0 and 'does not fit' in output and 'fix:' in output
    code, output = run_tool(
        'export_onnx.py', config, checkpoint, '--out', str(tmp_path / 'm.onnx'),
        '--cfg-options', 'test_dataloader.dataset.pipeline.1.type=RandomFlip', cwd=cwd,
        check=False)
    assert code != 0 and 'RandomFlip' in output and 'test_dataloader.dataset.pipeline' in output


def test_benchmark_reports_ratios_with_intervals_and_a_control(tmp_path):
    out = tmp_path / 'bench'
    run_tool('benchmark_onnx.py', '--families', 'rtmdet', '--modes', 'fused', '--rounds', '3',
             '--repeats', '1', '--out', str(out), '--cfg-options', *DATA, cwd=str(tmp_path))
    results = json.loads((tmp_path / 'bench.json').read_text())
    (row, ) = results['families']
    assert row['family'] == 'rtmdet' and row['mode'] == 'fused'
    assert row['onnx_ms'] > 0 and row['pytorch_ms'] > 0
    ratio = row['onnx_over_pytorch']
    assert ratio['low'] <= ratio['ratio'] <= ratio['high'] and ratio['rounds'] == 3
    assert results['control']['low'] <= results['control']['ratio'] <= results['control']['high']
    assert '| rtmdet | fused |' in (tmp_path / 'bench.md').read_text()
