"""Where a one-stage model's class scores go wrong: for each run of a study folder, its
last checkpoint's classifier on every image of the test split, level by level, and two
counterfactual evaluations of the same checkpoint.

    .venv/bin/python studies/rtmdet-collapse/diagnose.py studies/rtmdet-collapse

Per run and pyramid level (stride): cells whose best class score is above 0.5 per image,
the share of images with a *burst* (more than 5 such cells on the level) and the largest
logit; then the test mAP (COCO, tools/test.py's evaluator) as trained, with the stride-32
level's class scores removed, and with the head's stride-32 normalisation layers using
each test batch's statistics instead of their running ones; and the positives the
assigner gives each level over 40 training batches. Written to
``<folder>/diagnosis.json`` (runs already there are not redone) and printed.
"""
import argparse
import glob
import json
import os.path as osp
import sys
import tempfile

import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmdet.apis import init_detector
from mmdet.utils import register_all_modules


def checkpoint_of(run_dir: str) -> str:
    return sorted(glob.glob(osp.join(run_dir, 'epoch_*.pth')))[-1]


def run_cfg(run_dir: str) -> Config:
    """The run's config with the run's --cfg-options applied, as tools/train.py had it."""
    cfg = Config.fromfile(osp.join(run_dir, 'config.py'))
    rows = json.load(open(osp.join(osp.dirname(osp.dirname(run_dir)), 'results.json')))
    (row, ) = [r for r in rows if r['id'] == osp.basename(run_dir)]
    if row['cfg_options']:
        parser = argparse.ArgumentParser()
        parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', *row['cfg_options']]).cfg_options)
    return cfg


def level_stats(run_dir: str, batch: int = 16) -> dict:
    cfg = run_cfg(run_dir)
    model = init_detector(cfg, checkpoint_of(run_dir), device='cpu')
    dataset = cfg.test_dataloader.dataset
    ann = json.load(open(osp.join(dataset.data_root, dataset.ann_file)))
    paths = [osp.join(dataset.data_root, dataset.data_prefix.img, i['file_name'])
             for i in ann['images']]
    strides = [s[0] if isinstance(s, (tuple, list)) else s
               for s in model.bbox_head.prior_generator.strides]
    confident = [[] for _ in strides]
    top_logit = [[] for _ in strides]
    for start in range(0, len(paths), batch):
        images = [torch.from_numpy(mmcv.imread(p)).permute(2, 0, 1)
                  for p in paths[start:start + batch]]
        data = model.data_preprocessor({'inputs': images, 'data_samples': None}, False)
        with torch.no_grad():
            scores = model.bbox_head(model.extract_feat(data['inputs']))[0]
        for level, logits in enumerate(scores):
            best = logits.amax(1).flatten(1)  # (B, cells): best class logit per cell
            confident[level] += (best.sigmoid() > 0.5).sum(1).tolist()
            top_logit[level] += best.amax(1).tolist()
    return {f'stride {stride}': dict(
        confident_cells_per_image=float(np.mean(confident[level])),
        burst_images=float(np.mean(np.array(confident[level]) > 5)),
        max_logit=float(np.max(top_logit[level])),
        median_top_logit=float(np.median(top_logit[level])))
        for level, stride in enumerate(strides)}


def test_map(run_dir: str, change: str) -> float:
    """Test bbox mAP of the run's checkpoint: ``'none'`` as trained; ``'drop_top'``
    without the coarsest level's class scores; ``'batch_stats_top'`` with the head's
    coarsest-level normalisation in batch statistics."""
    cfg = run_cfg(run_dir)
    cfg.load_from = checkpoint_of(run_dir)
    cfg.work_dir = tempfile.mkdtemp(prefix='diagnose-')
    runner = Runner.from_cfg(cfg)
    head = runner.model.bbox_head
    if change == 'drop_top':
        def drop(module, args, out):
            scores = list(out[0])
            scores[-1] = torch.full_like(scores[-1], -30.0)
            return (scores, *out[1:])
        head.register_forward_hook(drop)
    elif change == 'batch_stats_top':
        def batch_stats(module, args):
            for layer in head.cls_convs[-1].modules():
                if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                    layer.train()
                    layer.momentum = 0.0  # batch statistics; the running ones stay
        head.register_forward_pre_hook(batch_stats)
    return float(runner.test()['coco/bbox_mAP'])


def positives_per_level(run_dir: str, batches: int = 40) -> dict:
    """How the trained model's assigner spreads the positives over the levels: positive
    cells per level over the first ``batches`` training batches (no update made)."""
    from mmdet.models.dense_heads import RTMDetHead
    cfg = run_cfg(run_dir)
    cfg.load_from = checkpoint_of(run_dir)
    cfg.work_dir = tempfile.mkdtemp(prefix='diagnose-')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    model, counts = runner.model, None
    original = RTMDetHead.get_targets

    def counting(self, *args, **kwargs):
        nonlocal counts
        targets = original(self, *args, **kwargs)
        found = [int(((labels >= 0) & (labels < self.num_classes)).sum()) for labels in targets[1]]
        counts = found if counts is None else [a + b for a, b in zip(counts, found)]
        return targets

    RTMDetHead.get_targets = counting
    try:
        model.train()
        with torch.no_grad():
            for index, batch in enumerate(runner.train_dataloader):
                data = model.data_preprocessor(batch, True)
                model.loss(data['inputs'], data['data_samples'])
                branch = getattr(model.bbox_head, 'contrastive_branch', None)
                if branch is not None:
                    branch.train()  # drops the step's record: no loss of it is taken
                if index + 1 == batches:
                    break
    finally:
        RTMDetHead.get_targets = original
    strides = [s[0] if isinstance(s, (tuple, list)) else s
               for s in model.bbox_head.prior_generator.strides]
    return {f'stride {stride}': count for stride, count in zip(strides, counts)}


def main(folder: str) -> None:
    register_all_modules()
    import mmclipjoint  # noqa: F401  (registers the joint heads)
    results = {row['id']: row for row in json.load(open(osp.join(folder, 'results.json')))}
    out_path = osp.join(folder, 'diagnosis.json')
    diagnosis = json.load(open(out_path)) if osp.isfile(out_path) else {}
    for run_id in sorted(results):
        run_dir = osp.join(folder, 'runs', run_id)
        if run_id in diagnosis or not glob.glob(osp.join(run_dir, 'epoch_*.pth')):
            continue
        diagnosis[run_id] = dict(
            test_mAP=results[run_id]['test']['bbox_mAP'],
            test_mAP_fused=results[run_id].get('test_fused', {}).get('bbox_mAP'),
            test_mAP_without_top_level=test_map(run_dir, 'drop_top'),
            test_mAP_top_level_batch_stats=test_map(run_dir, 'batch_stats_top'),
            training_positives_per_level=positives_per_level(run_dir),
            levels=level_stats(run_dir))
        with open(out_path, 'w') as f:
            json.dump(diagnosis, f, indent=1)
    for run_id, entry in sorted(diagnosis.items()):
        fused = entry['test_mAP_fused']
        print(f"{run_id}\n  test mAP {entry['test_mAP']:.3f}"
              + (f' (fused {fused:.3f})' if fused is not None else '')
              + f"; without the stride-32 scores {entry['test_mAP_without_top_level']:.3f}; "
              f"stride-32 head norm in batch statistics "
              f"{entry['test_mAP_top_level_batch_stats']:.3f}")
        print(f"  training positives per level (40 batches): "
              f"{entry['training_positives_per_level']}")
        for level, s in entry['levels'].items():
            print(f"  {level:>9}: {s['confident_cells_per_image']:6.2f} cells > 0.5 per image, "
                  f"bursts in {100 * s['burst_images']:5.1f}% of images, "
                  f"top logit median {s['median_top_logit']:5.1f} max {s['max_logit']:5.1f}")


if __name__ == '__main__':
    main(sys.argv[1])
