#!/usr/bin/env python
"""Time this package's YOLO11 against Ultralytics' own on the same weights and inputs.

    python tools/benchmark_yolo11_vs_ultralytics.py [--task train] [--scale n] \
        [--image-size 320] [--batch 8]
    python tools/benchmark_yolo11_vs_ultralytics.py --task predict --image-size 640 --batch 1
    python tools/benchmark_yolo11_vs_ultralytics.py ... --device cuda --out results  # .json/.md

Both models hold the same weights (Ultralytics' YOLO11 built from its yaml with seed 0,
converted with convert_yolo11_state_dict); ours is channels-last, as its config's
ChannelsLastHook makes it in a run (Ultralytics' fused predict model is partly
channels-last too, its training model not).

``--task train``: a step is forward, assignment, loss and backward in training mode on
the same images and ground truth: ours is the detector's ``loss`` (YOLO11Head with
BatchTaskAlignedAssigner), theirs ``DetectionModel`` with ``v8DetectionLoss``. The
first step's losses are compared before timing (they must agree: same model, same
loss).

``--task predict``: inference with the stock test settings (score 0.001, IoU 0.7, 300
per image): ours is ``test_step`` (preprocessing, forward, decoding, NMS, rescaling) of
the detector with its convolutions and batch norms fused (mmcv's ``fuse_conv_bn``, as
MMDetection's benchmark.py ``--fuse-conv-bn``; Ultralytics' predictor fuses too), theirs
``YOLO.predict`` on the same 8-bit BGR images, each in its input format: (3, H, W) tensors
as MMDetection's loaders give them, (H, W, 3) arrays as ``cv2.imread`` does (each model
converts them to RGB in [0, 1] itself). Every weight is perturbed by
N(0, 0.01) first (Ultralytics' initialisation gives constant outputs over the image)
and the class biases set to CLASS_BIAS so that boxes reach NMS, as a trained model's do
at that threshold (at Ultralytics' prior none would; how many do is reported as
``boxes_above_threshold``); the raw outputs (boxes and class scores of every prior) are
compared before timing.

The computations run in interleaved rounds (mmclipjoint.utils.timing): the ratio
ours / Ultralytics is the median of per-round ratios with a 95% bootstrap interval, and
a control (ours against itself, same rounds) shows what the run resolves; rounds go on
past ``--rounds`` until the control is inside 1 +- ``--precision`` and the ratio's
interval within +- the same, or ``--max-rounds``. Needs
``ultralytics`` (a test-only dependency of this project, installed by
tools/setup_env.sh); runs offline.
"""
import argparse
import copy
import itertools
import os
import os.path as osp
import statistics
import sys
import tempfile
from types import SimpleNamespace

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmclipjoint.utils import timing  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Our COCO configs' test_cfg, given to Ultralytics' predict as well.
SCORE_THR, IOU_THR, MAX_PER_IMAGE = 0.001, 0.7, 300
CLASS_BIAS = float(os.environ.get('YOLO11_BENCH_CLASS_BIAS', -6.5))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--task', default='train', choices=['train', 'predict'])
    parser.add_argument('--scale', default='n', choices=list('nsmlx'))
    parser.add_argument('--image-size', type=int, default=320)
    parser.add_argument('--batch', type=int, default=8)
    timing.add_round_arguments(parser)
    parser.add_argument('--repeats', type=int, default=3, help='calls of each per round')
    parser.add_argument('--warmup', type=int, default=2, help='untimed calls of each first')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help="CPU threads, pinned (default: torch's)")
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', help='also write the results to OUT.json and OUT.md')
    args = parser.parse_args(argv)
    timing.check_round_arguments(parser, args)
    if args.image_size % 32:
        parser.error('--image-size must be a multiple of 32 (the largest stride)')
    return args


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


def ultralytics_environment():
    os.environ.setdefault('YOLO_OFFLINE', 'true')
    os.environ.setdefault('YOLO_CONFIG_DIR', tempfile.mkdtemp(prefix='ultralytics-'))


def our_detector(scale, state_dict, device):
    """Our YOLO11 COCO config's detector with the given weights, and the config."""
    from mmengine.config import Config

    import mmclipjoint  # noqa: F401
    from mmclipjoint.utils.ultralytics import convert_yolo11_state_dict
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, f'configs/yolo11/yolo11_{scale}_8xb16-600e_coco.py'))
    ours = MODELS.build(cfg.model)
    ours.load_state_dict(convert_yolo11_state_dict(state_dict), strict=True)
    return ours.to(device), cfg


def build_train_models(scale, device):
    ultralytics_environment()
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.loss import v8DetectionLoss

    from mmclipjoint.engine.hooks import apply_channels_last
    torch.manual_seed(0)
    theirs = DetectionModel(f'yolo11{scale}.yaml', nc=80, verbose=False).to(device).train()
    theirs.args = SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
    criterion = v8DetectionLoss(theirs)
    ours, cfg = our_detector(scale, theirs.state_dict(), device)
    # Channels-last, as the config's ChannelsLastHook makes it in a run.
    channels_last = apply_channels_last(ours.train(), cfg)
    return ours, theirs, criterion, channels_last


def train_calls(args):
    """(ours, theirs) step functions and the first step's losses."""
    ours, theirs, criterion, channels_last = build_train_models(args.scale, args.device)
    batches = make_batches(max(args.repeats, 1), args.batch, args.image_size, args.device)

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

    first = dict(ours=our_step(batches[0]), ultralytics=their_step(batches[0]))
    print(f"first step, total loss: ours {first['ours']:.5f}, "
          f"Ultralytics {first['ultralytics']:.5f}")
    if abs(first['ours'] - first['ultralytics']) > 1e-3 * abs(first['ultralytics']):
        raise SystemExit('the two steps do not compute the same loss; timing them would '
                         'compare different work')
    cycles = {name: itertools.cycle(batches) for name in ('ours', 'ultralytics', 'control')}
    calls = dict(ours=lambda: our_step(next(cycles['ours'])),
                 ultralytics=lambda: their_step(next(cycles['ultralytics'])),
                 control=lambda: our_step(next(cycles['control'])))
    return calls, dict(first_loss=first, channels_last=channels_last)


def predict_calls(args):
    """(ours, theirs) predict functions and the comparison of their raw outputs."""
    ultralytics_environment()
    from mmcv.cnn import fuse_conv_bn
    from ultralytics import YOLO

    from mmclipjoint.engine.hooks import apply_channels_last
    from mmdet.structures import DetDataSample
    torch.manual_seed(0)
    theirs = YOLO(f'yolo11{args.scale}.yaml')
    with torch.no_grad():
        for param in theirs.model.parameters():
            param.add_(torch.randn_like(param) * 0.01)
        # Class priors raised to CLASS_BIAS so that boxes reach NMS, as a trained model's
        # do (at Ultralytics' prior, about 1e-5, none passes the 0.001 threshold).
        for branch in theirs.model.model[-1].cv3:
            branch[-1].bias.fill_(CLASS_BIAS)
    ours, cfg = our_detector(args.scale, theirs.model.state_dict(), args.device)
    ours = fuse_conv_bn(ours.eval())
    # Channels-last, as the config's ChannelsLastHook makes it in a run.
    channels_last = apply_channels_last(ours, cfg)
    # Ultralytics' predict keeps each box's best class; our COCO config's evaluation
    # setting keeps every (box, class) pair above the threshold, as Ultralytics' val does.
    ours.bbox_head.test_cfg['multi_label'] = False
    size = args.image_size
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.batch, 3, size, size), generator=generator,
                           dtype=torch.uint8)
    # The same 8-bit BGR images for both, each in its own input format: ours (3, H, W)
    # tensors as MMDetection's loaders give them, theirs (H, W, 3) arrays as cv2.imread
    # gives them; each predict converts them itself (to RGB in [0, 1]).
    their_images = [image.permute(1, 2, 0).contiguous().numpy() for image in images]
    their_input = (images.flip(1).float() / 255).to(args.device)  # the raw-output check
    meta = dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                scale_factor=(1.0, 1.0), batch_input_shape=(size, size))
    data = dict(inputs=[image.to(args.device) for image in images],
                data_samples=[DetDataSample(metainfo=meta) for _ in range(args.batch)])

    def our_predict():
        with torch.inference_mode():
            return ours.test_step(copy.copy(data))

    def their_predict():
        return theirs.predict(their_images, imgsz=size, conf=SCORE_THR, iou=IOU_THR,
                              max_det=MAX_PER_IMAGE, device=args.device, verbose=False)

    # Raw outputs: (B, 4 + 80, priors), boxes (centre, size) in pixels and class scores.
    with torch.no_grad():
        head = ours.bbox_head
        mine = head.decode(*head(ours.extract_feat(ours.data_preprocessor(
            copy.copy(data), False)['inputs'])))
        reference = theirs.model.to(args.device).eval()(their_input)
        reference = reference[0] if isinstance(reference, (tuple, list)) else reference
    ours_dets, their_dets = our_predict(), their_predict()
    # Ultralytics' first predict sets up its device (select_device), which on a CPU sets
    # torch's threads to the CPU count - 1 for the whole process: pinned again here.
    torch.set_num_threads(args.threads)
    agreement = dict(
        raw_shape=list(mine.shape),
        score_max_diff=float((mine[:, 4:] - reference[:, 4:]).abs().max()),
        box_max_diff_px=float((mine[:, :4] - reference[:, :4]).abs().max()),
        boxes_above_threshold=(mine[:, 4:].amax(1) > SCORE_THR).sum(1).tolist(),
        detections_ours=[len(d.pred_instances) for d in ours_dets],
        detections_ultralytics=[len(r.boxes) for r in their_dets])
    print(f"raw outputs: scores max diff {agreement['score_max_diff']:.2e}, boxes "
          f"{agreement['box_max_diff_px']:.2e} px; boxes above the threshold "
          f"{agreement['boxes_above_threshold']}; detections ours "
          f"{agreement['detections_ours']}, Ultralytics {agreement['detections_ultralytics']}")
    if agreement['score_max_diff'] > 1e-4 or agreement['box_max_diff_px'] > 1e-2:
        raise SystemExit('the two models do not give the same raw outputs; timing them '
                         'would compare different work')
    return dict(ours=our_predict, ultralytics=their_predict, control=our_predict), \
        dict(agreement=agreement, channels_last=channels_last)


def markdown(result):
    setup = (f"YOLO11{result['scale']}, {result['task']}, batch {result['batch']} x "
             f"{result['image_size']} px, {result['device']}, "
             f"{result['threads_during_timing']} threads, ours "
             f"{'channels-last' if result['channels_last'] else 'NCHW'}, "
             f"{result['rounds_run']} rounds x {result['repeats']}"
             f"{'' if result['resolved'] else ' (--max-rounds reached before the precision)'}")
    return '\n'.join([
        setup, '', '| ours ms | Ultralytics ms | ours / Ultralytics [95% CI] | control |',
        '| --- | --- | --- | --- |',
        f"| {result['ms']['ours']:.1f} | {result['ms']['ultralytics']:.1f} | "
        f"{timing.format_ratio(result['ratio'])} | "
        f"{timing.format_ratio(result['control'])} |"]) + '\n'


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    calls, checks = (train_calls if args.task == 'train' else predict_calls)(args)
    sync = torch.cuda.synchronize if args.device.startswith('cuda') else (lambda: None)
    resolved = timing.resolves([('ours', 'ultralytics')], [('control', 'ours')], args.precision)
    times = timing.interleaved_rounds(calls, args.rounds, args.repeats, args.warmup, sync,
                                      max_rounds=args.max_rounds, precise_enough=resolved)
    result = dict(vars(args), **checks, times=times, rounds_run=len(times['ours']),
                  threads_during_timing=torch.get_num_threads(),
                  resolved=resolved(times),
                  ms={k: 1000 * statistics.median(v) for k, v in times.items()},
                  ratio=timing.ratio_with_interval(times['ours'], times['ultralytics']),
                  control=timing.ratio_with_interval(times['control'], times['ours']))
    text = markdown(result)
    print(text)
    print(f"ratio ours/Ultralytics {timing.format_ratio(result['ratio'])}")
    if args.out:
        timing.write_results(args.out, result, text)
    return result


if __name__ == '__main__':
    main()
