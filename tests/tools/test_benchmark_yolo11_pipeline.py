"""tools/benchmark_yolo11_pipeline.py: our COCO config under MMEngine's Runner and
Ultralytics' trainer each train for the iterations asked on the same built-in images
(exported to Ultralytics' layout with the same boxes); throughput counts only the
iterations it should (no timing is asserted: speed is the benchmark's to measure)."""
import json
import os.path as osp
import sys

import pytest

from joint_testing import REPO, run_tool

pytestmark = pytest.mark.slow  # every test here trains or starts processes

sys.path.insert(0, osp.join(REPO, 'tools'))
import benchmark_yolo11_pipeline as pipeline  # noqa: E402

TINY = ['image_size=96', 'num_train=12', 'num_val=2', 'num_test=2', 'max_objects=3']


def test_both_trainers_run_the_iterations_asked(tmp_path):
    out = tmp_path / 'bench'
    printed = run_tool('benchmark_yolo11_pipeline.py', '--image-size', '128', '--batch', '2',
                       '--iters', '9', '--skip', '2', '--repeats', '1', '--threads', '1',
                       '--device', 'cpu', '--work-dir', str(tmp_path / 'work'),
                       '--dataset-options', f'root={tmp_path / "shapes"}', *TINY,
                       '--out', str(out), cwd=str(tmp_path))
    assert 'ours run 1' in printed and 'ultralytics run 1' in printed
    result = json.loads((tmp_path / 'bench.json').read_text())
    for which in ('ours', 'ultralytics'):
        (run, ) = result['runs'][which]
        # 12 images in batches of 2: 6 iterations an epoch, so 9 iterations span two
        # epochs; timed are those after the first 2 that do not start an epoch: 3-6, 8-9.
        assert run['iterations'] == 6, which
        assert run['threads'] == 1 and run['images_per_s'] > 0
    ratio = result['ratio']
    assert ratio['low'] <= ratio['ratio'] <= ratio['high']
    assert ratio['ratio'] == pytest.approx(result['images_per_s']['ultralytics']
                                           / result['images_per_s']['ours'])
    assert '| ours images/s | Ultralytics images/s |' in (tmp_path / 'bench.md').read_text()


def test_the_export_keeps_every_box_and_class(tmp_path):
    split = pipeline.builtin_training_split(
        dict(root=str(tmp_path / 'shapes'), image_size=96, num_train=6, num_val=2,
             num_test=2))
    data = pipeline.export_for_ultralytics(split, str(tmp_path / 'export'))
    coco = json.load(open(osp.join(split['data_root'], split['ann_file'])))
    images = {image['id']: image for image in coco['images']}
    for ann in coco['annotations']:
        image = images[ann['image_id']]
        stem = osp.splitext(image['file_name'])[0]
        label = tmp_path / 'export' / 'labels' / 'train' / f'{stem}.txt'
        rows = [list(map(float, line.split())) for line in label.read_text().splitlines()]
        x, y, w, h = ann['bbox']
        expected = [ann['category_id'] - 1, (x + w / 2) / image['width'],
                    (y + h / 2) / image['height'], w / image['width'], h / image['height']]
        assert any(row == pytest.approx(expected, abs=1e-6) for row in rows)
        assert (tmp_path / 'export' / 'images' / 'train' / image['file_name']).exists()
    yaml = json.load(open(data))
    assert [yaml['names'][str(i)] for i in range(len(split['classes']))] == split['classes']


def test_throughput_leaves_out_warm_up_and_epoch_starts():
    stamps = [('epoch', 0.0), ('iter', 1.0), ('iter', 2.0), ('iter', 3.0), ('epoch', 3.5),
              ('iter', 10.0), ('iter', 10.5)]
    result = pipeline.throughput(stamps, batch=4, skip=1)
    # Timed: iterations 2 and 3 (1 s each) and the second of the next epoch (0.5 s).
    assert result['iterations'] == 3
    assert result['images_per_s'] == pytest.approx(4 * 3 / 2.5)
    with pytest.raises(ValueError, match='no iteration was timed'):
        pipeline.throughput(stamps[:2], batch=4, skip=1)
