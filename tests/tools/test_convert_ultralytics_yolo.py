"""tools/convert_ultralytics_yolo.py: an Ultralytics YOLO11 checkpoint (EMA weights,
class names) becomes an MMDetection checkpoint that the stock and the joint YOLO11
configs load, predicting what Ultralytics predicts; a checkpoint of another scale or
architecture, or without class names, is refused with the fix. A ``.pt`` (a pickled
model) is converted only with --trust-checkpoint; a plain state_dict needs no trust."""
import copy
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn

from joint_testing import YOLO11_BASELINE, YOLO11_JOINT, build_detector, run_tool

pytestmark = pytest.mark.slow  # every test here trains or starts processes

SHAPES = ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross']


def ultralytics_model(yaml, nc, seed):
    os.environ['YOLO_OFFLINE'] = 'true'
    from ultralytics.nn.tasks import DetectionModel
    torch.manual_seed(seed)
    model = DetectionModel(yaml, nc=nc, verbose=False)
    for module in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    model.names = dict(enumerate(SHAPES[:nc]))
    return model.eval()


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    os.environ.setdefault('YOLO_CONFIG_DIR', str(tmp_path_factory.mktemp('ultralytics')))
    root = tmp_path_factory.mktemp('convert')
    model, ema = ultralytics_model('yolo11n.yaml', 6, 0), ultralytics_model('yolo11n.yaml', 6, 1)
    paths = dict(pt=str(root / 'yolo11n_shapes.pt'), state_dict=str(root / 'state_dict.pt'),
                 yolov8=str(root / 'yolov8n.pt'))
    # As Ultralytics saves: whole models in half precision, the EMA beside the raw one.
    torch.save(dict(model=copy.deepcopy(model).half(), ema=copy.deepcopy(ema).half(),
                    epoch=-1), paths['pt'])
    torch.save(model.state_dict(), paths['state_dict'])
    torch.save(dict(model=ultralytics_model('yolov8n.yaml', 6, 0)), paths['yolov8'])
    return root, paths, model, ema


def test_a_pickled_model_needs_explicit_trust(checkpoints):
    root, paths, _, _ = checkpoints
    out = str(root / 'untrusted.pth')
    code, log = run_tool('convert_ultralytics_yolo.py', paths['pt'], out, cwd=str(root),
                         check=False)
    assert code != 0 and not osp.exists(out)
    assert f"{paths['pt']}: refused to load: it holds ultralytics.nn.tasks.DetectionModel" in log
    assert 'converted only with --trust-checkpoint' in log and 'Traceback' not in log


def test_converted_checkpoint_loads_and_predicts_as_ultralytics(checkpoints):
    root, paths, _, ema = checkpoints
    out = str(root / 'converted.pth')
    log = run_tool('convert_ultralytics_yolo.py', paths['pt'], out, '--trust-checkpoint',
                   cwd=str(root))
    assert 'YOLO11n, 6 classes' in log
    checkpoint = torch.load(out, weights_only=True)  # the output holds plain types only
    assert checkpoint['meta']['dataset_meta']['classes'] == tuple(SHAPES)
    detector = build_detector(YOLO11_BASELINE).eval()
    incompatible = detector.load_state_dict(checkpoint['state_dict'], strict=True)
    assert not incompatible.missing_keys and not incompatible.unexpected_keys
    images = torch.rand(2, 3, 160, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = ema.half().float()(images)[0]  # the EMA weights, as saved (half)
        head = detector.bbox_head
        ours = head.decode(*head(detector.neck(detector.backbone(images))))
    assert (ours[:, 4:] - theirs[:, 4:]).abs().max() < 1e-4
    assert (ours[:, :4] - theirs[:, :4]).abs().max() < 1e-5 * theirs[:, :4].abs().max()
    # The joint config: every YOLO11 weight loads, only the new branch starts fresh.
    joint = build_detector(YOLO11_JOINT)
    incompatible = joint.load_state_dict(checkpoint['state_dict'], strict=False)
    assert not incompatible.unexpected_keys
    assert incompatible.missing_keys and all(
        k.startswith('bbox_head.contrastive_branch.') for k in incompatible.missing_keys)


def test_a_plain_state_dict_needs_class_names(checkpoints):
    root, paths, model, _ = checkpoints
    out = str(root / 'from_state_dict.pth')
    code, log = run_tool('convert_ultralytics_yolo.py', paths['state_dict'], out,
                         cwd=str(root), check=False)
    assert code != 0 and 'the head has 6 classes but the class names are missing' in log
    assert 'fix: pass --classes' in log and not osp.exists(out)
    names = root / 'names.txt'
    names.write_text('\n'.join(SHAPES) + '\n')
    run_tool('convert_ultralytics_yolo.py', paths['state_dict'], out, '--classes', str(names),
             cwd=str(root))
    converted = torch.load(out, weights_only=True)
    assert converted['meta']['dataset_meta']['classes'] == tuple(SHAPES)
    torch.testing.assert_close(converted['state_dict']['bbox_head.cls_branches.0.2.weight'],
                               model.state_dict()['model.23.cv3.0.2.weight'])


def test_another_scale_or_architecture_is_refused(checkpoints):
    root, paths, _, _ = checkpoints
    code, log = run_tool('convert_ultralytics_yolo.py', paths['pt'], str(root / 'x.pth'),
                         '--scale', 's', '--trust-checkpoint', cwd=str(root), check=False)
    assert code != 0 and 'is not a YOLO11s detector' in log and 'of another shape' in log
    code, log = run_tool('convert_ultralytics_yolo.py', paths['yolov8'], str(root / 'y.pth'),
                         '--trust-checkpoint', cwd=str(root), check=False)
    assert code != 0 and 'YOLO11' in log and 'another architecture' in log
