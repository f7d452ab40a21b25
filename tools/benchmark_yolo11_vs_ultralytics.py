#!/usr/bin/env python
"""Time this package's YOLO11 training step against Ultralytics' own, on identical batches.

    python tools/benchmark_yolo11_vs_ultralytics.py [--scale n] [--image-size 320] [--batch 8]

Both models hold the same weights (Ultralytics' YOLO11, random, converted with
convert_yolo11_state_dict), both see the same images and ground truth, and a step is
forward, assignment, loss and backward in training mode: ours is the detector's
``loss`` (YOLO11Head with BatchTaskAlignedAssigner), theirs ``DetectionModel`` with
``v8DetectionLoss``. Before timing, the first step's losses are compared (they must
agree: same model, same loss). The two alternate in rounds and the medians are compared,
so that the drift of a shared machine falls on both. Needs ``ultralytics`` (a test-only
dependency of this project, installed by tools/setup_env.sh); runs offline.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from types import SimpleNamespace

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--scale', default='n', choices=list('nsmlx'))
    parser.add_argument('--image-size', type=int, default=320)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=4, help='alternating rounds per model')
    parser.add_argument('--iters', type=int, default=5, help='timed steps a round')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps a round')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args(argv)


def make_batches(count, batch, size, device, seed=0):
    """Images and ground truth, as our detector and as Ultralytics' loss take them."""
    from mmengine.structures import InstanceData

    from mmdet.structures import DetDataSample
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        images = torch.rand(batch, 3, size, size, generator=generator)
        samples, idx, cls, xywh = [], [], [], []
        for i in range(batch):
            n = int(torch.randint(2, 11, (1, ), generator=generator))
            centre = torch.rand(n, 2, generator=generator) * size
            wh = torch.rand(n, 2, generator=generator) * size / 3 + 8
            boxes = torch.cat((centre - wh / 2, centre + wh / 2), 1).clamp(0, size)
            labels = torch.randint(0, 80, (n, ), generator=generator)
            sample = DetDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size),
                                                 batch_input_shape=(size, size)))
            sample.gt_instances = InstanceData(bboxes=boxes.to(device), labels=labels.to(device))
            samples.append(sample)
            idx.append(torch.full((n, ), float(i)))
            cls.append(labels.float())
            xywh.append(torch.cat(((boxes[:, :2] + boxes[:, 2:]) / 2,
                                   boxes[:, 2:] - boxes[:, :2]), 1) / size)
        theirs = dict(batch_idx=torch.cat(idx).to(device), cls=torch.cat(cls)[:, None].to(device),
                      bboxes=torch.cat(xywh).to(device))
        batches.append((images.to(device), samples, theirs))
    return batches


def build_models(scale, device):
    os.environ.setdefault('YOLO_OFFLINE', 'true')
    os.environ.setdefault('YOLO_CONFIG_DIR', tempfile.mkdtemp(prefix='ultralytics-'))
    from mmengine.config import Config
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.loss import v8DetectionLoss

    import mmclipjoint  # noqa: F401
    from mmclipjoint.utils.ultralytics import convert_yolo11_state_dict
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    theirs = DetectionModel(f'yolo11{scale}.yaml', nc=80, verbose=False).to(device).train()
    theirs.args = SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
    criterion = v8DetectionLoss(theirs)
    cfg = Config.fromfile(osp.join(ROOT, f'configs/yolo11/yolo11_{scale}_8xb16-600e_coco.py'))
    ours = MODELS.build(cfg.model)
    ours.load_state_dict(convert_yolo11_state_dict(theirs.state_dict()), strict=True)
    return ours.to(device).train(), theirs, criterion


def main(argv=None):
    args = parse_args(argv)
    device = args.device
    ours, theirs, criterion = build_models(args.scale, device)
    steps = args.warmup + args.iters
    batches = make_batches(steps, args.batch, args.image_size, device)

    def our_step(batch):
        images, samples, _ = batch
        ours.zero_grad(set_to_none=True)
        losses = ours.loss(images, samples)
        total = sum(v for k, v in losses.items() if 'loss' in k)
        total.backward()
        return float(total.detach())

    def their_step(batch):
        images, _, targets = batch
        theirs.zero_grad(set_to_none=True)
        loss, _ = criterion(theirs(images), targets)
        loss.sum().backward()
        return float(loss.sum().detach())

    first_ours, first_theirs = our_step(batches[0]), their_step(batches[0])
    print(f'first step, total loss: ours {first_ours:.5f}, Ultralytics {first_theirs:.5f}')
    if abs(first_ours - first_theirs) > 1e-3 * abs(first_theirs):
        sys.exit('the two steps do not compute the same loss; timing them would compare '
                 'different work')

    def timed(step):
        for batch in batches[:args.warmup]:
            step(batch)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for batch in batches[args.warmup:]:
            step(batch)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / args.iters

    times = dict(ours=[], ultralytics=[])
    for r in range(args.rounds):
        order = [('ours', our_step), ('ultralytics', their_step)]
        for name, step in (order if r % 2 == 0 else order[::-1]):
            times[name].append(timed(step))
        print(f"round {r + 1}/{args.rounds}: ours {times['ours'][-1]:.4f} s/step, "
              f"Ultralytics {times['ultralytics'][-1]:.4f} s/step")
    median = {k: statistics.median(v) for k, v in times.items()}
    ratio = median['ours'] / median['ultralytics']
    print(f'YOLO11{args.scale}, batch {args.batch} x {args.image_size} px, {device}: '
          f"ours {median['ours']:.4f} s/step, Ultralytics {median['ultralytics']:.4f} s/step, "
          f'ratio ours/Ultralytics {ratio:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(vars(args), median=median, times=times, ratio=ratio,
                           first_loss=dict(ours=first_ours, ultralytics=first_theirs)), f,
                      indent=1)
    return ratio


if __name__ == '__main__':
    main()
