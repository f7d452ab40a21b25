#!/usr/bin/env python
"""Training throughput of YOLO11 with the COCO recipe's data pipeline, data loading
included: this package's COCO config run by MMEngine's Runner against Ultralytics'
trainer, on the same built-in images.

    python tools/benchmark_yolo11_pipeline.py                      # n, 640 px, batch 8
    python tools/benchmark_yolo11_pipeline.py --scale s --iters 300 --repeats 3 \
        --out benchmarks/yolo11_pipeline_cpu_s640

Ours: ``configs/yolo11/yolo11_{scale}_8xb16-600e_coco.py`` (CachedMosaic, random affine,
HSV, flip; EMA, the YOLO schedule hook) with its dataset pointed at the built-in
training split (COCO json, generated on first use) and 6 classes; theirs:
``YOLO('yolo11{scale}.yaml').train`` on the same images and boxes exported to its
dataset format (Ultralytics' own ``convert_coco``), with the recipe's settings (SGD,
mosaic, translate 0.1, scale 0.5, HSV, flip 0.5; no validation, no plots, mosaic kept
on). Each runs ``--iters`` iterations in a process of its own, alternately,
``--repeats`` times; throughput is images per second over the iterations after the
first ``--skip`` (warm-up) that do not start an epoch (an epoch's first iteration waits
for its loader; Ultralytics also saves and validates between epochs), the time of an
iteration being from the end of the one before to its own end: loading, augmentation,
forward, loss, backward and the optimizer. The ratio reported is ours / Ultralytics in
time per image (below 1: ours is faster), the median over repeats with their range.

Both use ``--workers`` loader processes (default 0 on a CPU, as Ultralytics' trainer
always does on a CPU: it sets workers to 0 there) and ``--threads`` torch threads.
Known differences, not compensated: Ultralytics accumulates gradients to 64 images
(an optimizer and EMA step every 64 / batch iterations), ours steps every iteration
(the recipe scales weight decay instead); Ultralytics centres its letterbox.
Needs ``ultralytics`` (a test-only dependency, installed by tools/setup_env.sh); runs
offline.
"""
import argparse
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from mmclipjoint.utils import timing  # noqa: E402

SHAPES_CONFIG = osp.join(ROOT, 'configs/_base_/datasets/shapes_coco.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--scale', default='n', choices=list('nsmlx'))
    parser.add_argument('--image-size', type=int, default=640)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--iters', type=int, default=200, help='iterations per run')
    parser.add_argument('--skip', type=int, default=10,
                        help='first iterations of a run left out (warm-up)')
    parser.add_argument('--repeats', type=int, default=2,
                        help='runs of each, alternating (ours first)')
    parser.add_argument('--workers', type=int, default=0, help='data loader processes')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch threads in both (default: torch's)")
    parser.add_argument('--device', default=None, help="'cpu' or 'cuda' (default: cuda if any)")
    parser.add_argument('--dataset-options', nargs='+', action=DictAction, default={},
                        help="the built-in dataset's parameters (key=value, as the "
                             "configs' builtin_dataset: root, image_size, num_train...)")
    parser.add_argument('--work-dir', help='where the exported data and runs go (default: '
                                           'a temporary folder, removed)')
    parser.add_argument('--out', help='write the results to OUT.json and OUT.md')
    parser.add_argument('--run', choices=['ours', 'ultralytics'], help=argparse.SUPPRESS)
    parser.add_argument('--spec', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.image_size % 32:
        parser.error('--image-size must be a multiple of 32 (the largest stride)')
    if args.iters <= args.skip + 1:
        parser.error('--iters must exceed --skip + 1 (nothing would be timed)')
    if args.repeats < 1 or args.batch < 1 or args.workers < 0:
        parser.error('--repeats and --batch must be positive, --workers not negative')
    return args


# ---- the data ------------------------------------------------------------------------

def builtin_training_split(options=None):
    """The built-in dataset's training split (generated on first use; ``options``
    change its ``builtin_dataset`` parameters): its COCO json, image folder and class
    names."""
    from mmengine.config import Config

    from mmclipjoint.datasets import prepare_builtin_dataset
    cfg = Config.fromfile(SHAPES_CONFIG)
    cfg.builtin_dataset.update(options or {})
    # A relative root is the repository's (data/shapes/ by default).
    cfg.builtin_dataset.root = osp.join(ROOT, cfg.builtin_dataset.root)
    prepare_builtin_dataset(cfg, logger=lambda *a: None)
    dataset = cfg.train_dataloader.dataset
    root = cfg.builtin_dataset.root
    return dict(data_root=root, ann_file=dataset.ann_file,
                image_dir=osp.join(root, dataset.data_prefix['img']),
                classes=list(dataset.metainfo['classes']))


def export_for_ultralytics(split, out_dir):
    """The split in Ultralytics' layout: images/train (links to the images),
    labels/train (its convert_coco's txt files), data.yaml. Returns the yaml's path."""
    from ultralytics.data.converter import convert_coco
    with tempfile.TemporaryDirectory() as annotations:
        os.symlink(osp.join(split['data_root'], split['ann_file']),
                   osp.join(annotations, 'instances_train.json'))
        convert_coco(annotations, save_dir=out_dir, cls91to80=False)
    images = osp.join(out_dir, 'images', 'train')
    os.makedirs(images, exist_ok=True)
    for name in os.listdir(osp.join(out_dir, 'labels', 'train')):
        image = osp.splitext(name)[0] + '.jpg'
        os.symlink(osp.join(split['image_dir'], image), osp.join(images, image))
    yaml_path = osp.join(out_dir, 'data.yaml')
    with open(yaml_path, 'w') as f:
        json.dump(dict(path=out_dir, train='images/train', val='images/train',
                       names=dict(enumerate(split['classes']))), f)  # JSON is YAML
    return yaml_path


# ---- one run of each, in its own process -----------------------------------------------

class EnoughIterations(Exception):
    """Raised by a run's per-iteration stamp once ``--iters`` iterations are done."""


def stamp_iteration(stamps, iters):
    """An iteration's end: its time, then out of the run once ``iters`` are done."""
    stamps.append(('iter', time.perf_counter()))
    if sum(kind == 'iter' for kind, _ in stamps) >= iters:
        raise EnoughIterations


def epochs_for(spec, images):
    return math.ceil(spec['iters'] / math.ceil(images / spec['batch']))


def run_ours(spec):
    """Our config through MMEngine's Runner; per-iteration times from its IterTimerHook."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    split = spec['split']
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'yolo11',
                                   f"yolo11_{spec['scale']}_8xb16-600e_coco.py"))
    size = (spec['image_size'], spec['image_size'])
    for transform in cfg.train_dataloader.dataset.pipeline:
        if transform['type'] == 'CachedMosaic':
            transform['img_scale'] = size
        if transform['type'] == 'RandomAffine':
            transform['border'] = (-size[0] // 2, -size[1] // 2)
    num_images = len(json.load(open(osp.join(split['data_root'], split['ann_file'])))['images'])
    epochs = epochs_for(spec, num_images)
    cfg.train_dataloader.update(batch_size=spec['batch'], num_workers=spec['workers'],
                                persistent_workers=spec['workers'] > 0)
    cfg.train_dataloader.dataset.update(
        data_root=split['data_root'], ann_file=split['ann_file'],
        data_prefix=dict(img=osp.relpath(split['image_dir'], split['data_root']) + '/'),
        metainfo=dict(classes=tuple(split['classes'])))
    cfg.model.bbox_head.num_classes = len(split['classes'])
    cfg.optim_wrapper.paramwise_cfg.batch_size_per_gpu = spec['batch']
    cfg.train_cfg.update(max_epochs=epochs, val_interval=epochs + 1,
                         dynamic_intervals=[(epochs + 1, 1)])
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'PipelineSwitchHook']
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs + 1,
                                        save_last=False)
    cfg.default_hooks.logger.interval = 50
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.work_dir = spec['work_dir']
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    torch.set_num_threads(spec['threads'])
    stamps = []
    from mmengine.hooks import Hook

    class Stamp(Hook):
        priority = 'LOWEST'

        def before_train_epoch(self, runner):
            stamps.append(('epoch', time.perf_counter()))

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            stamp_iteration(stamps, spec['iters'])

    runner.register_hook(Stamp())
    try:
        runner.train()
    except EnoughIterations:
        pass
    return dict(stamps=stamps, threads=torch.get_num_threads())


def run_ultralytics(spec):
    """Ultralytics' trainer; per-iteration times from its batch-end callback."""
    os.environ.setdefault('YOLO_OFFLINE', 'true')
    os.environ.setdefault('YOLO_CONFIG_DIR', osp.join(spec['work_dir'], 'settings'))
    import torch
    from ultralytics import YOLO
    stamps, threads = [], []
    model = YOLO(f"yolo11{spec['scale']}.yaml")

    def epoch_start(trainer):
        # Ultralytics' select_device sets torch's CPU threads to the CPU count - 1.
        torch.set_num_threads(spec['threads'])
        threads.append(torch.get_num_threads())
        stamps.append(('epoch', time.perf_counter()))

    def batch_end(trainer):
        # Out of the trainer at once: its own stop would validate and save first.
        stamp_iteration(stamps, spec['iters'])

    model.add_callback('on_train_epoch_start', epoch_start)
    model.add_callback('on_train_batch_end', batch_end)
    images = len(os.listdir(osp.join(osp.dirname(spec['data']), 'images', 'train')))
    try:
        model.train(data=spec['data'], epochs=epochs_for(spec, images), imgsz=spec['image_size'],
                    batch=spec['batch'], workers=spec['workers'], device=spec['device'],
                    optimizer='SGD', lr0=0.01, momentum=0.937, weight_decay=5e-4,
                    mosaic=1.0, translate=0.1, scale=0.5, fliplr=0.5, mixup=0.0, close_mosaic=0,
                    amp=False, val=False, plots=False, save=False, seed=0, deterministic=False,
                    project=spec['work_dir'], name='run', exist_ok=True, verbose=False)
    except EnoughIterations:
        pass
    return dict(stamps=stamps, threads=threads[0] if threads else None)


def throughput(stamps, batch, skip):
    """Images per second over the timed iterations: each iteration's time is from the
    previous stamp (an iteration's end, or its epoch's start) to its end; an epoch's first
    iteration and the run's first ``skip`` are left out."""
    times, previous, count = [], None, 0
    for kind, stamp in stamps:
        if kind == 'epoch':
            previous = None
            continue
        count += 1
        if previous is not None and count > skip:
            times.append(stamp - previous)
        previous = stamp
    if not times:
        raise ValueError('no iteration was timed: --iters too small for --skip')
    return dict(images_per_s=batch * len(times) / sum(times), iterations=len(times),
                median_iteration_s=statistics.median(times))


def run_in_process(which, spec, work):
    """One run of ``which`` in a fresh process (threads, loader workers and imports of
    each framework kept apart); its stamps come back through a JSON file."""
    path = osp.join(work, f"{which}-{spec['repeat']}.json")
    with open(path, 'w') as f:
        json.dump(spec, f)
    subprocess.run([sys.executable, osp.abspath(__file__), '--run', which, '--spec', path],
                   check=True, cwd=work)
    with open(path) as f:
        return json.load(f)['result']


def markdown(results):
    s = results['setup']
    ratio = results['ratio']
    lines = [f"YOLO11{s['scale']}, training with the COCO recipe's pipeline, batch "
             f"{s['batch']} x {s['image_size']} px, {s['device']}, {s['threads']} threads, "
             f"{s['workers']} loader workers, {s['iters']} iterations per run "
             f"({s['skip']} warm-up left out), {s['repeats']} runs of each", '',
             '| ours images/s | Ultralytics images/s | ours / Ultralytics time per image '
             '[range over repeats] |', '| --- | --- | --- |',
             f"| {results['images_per_s']['ours']:.2f} | "
             f"{results['images_per_s']['ultralytics']:.2f} | "
             f"{timing.format_ratio(ratio)} |"]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    if args.run:  # a child process: one run
        with open(args.spec) as f:
            spec = json.load(f)
        spec['result'] = (run_ours if args.run == 'ours' else run_ultralytics)(spec)
        with open(args.spec, 'w') as f:
            json.dump(spec, f)
        return spec['result']
    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    threads = args.threads or torch.get_num_threads()
    work = args.work_dir or tempfile.mkdtemp(prefix='yolo11-pipeline-')
    os.makedirs(work, exist_ok=True)
    split = builtin_training_split(args.dataset_options)
    data = export_for_ultralytics(split, osp.join(work, 'ultralytics-data'))
    runs = dict(ours=[], ultralytics=[])
    for repeat in range(args.repeats):
        for which in ('ours', 'ultralytics'):
            spec = dict(scale=args.scale, image_size=args.image_size, batch=args.batch,
                        iters=args.iters, workers=args.workers, threads=threads,
                        device=device, split=split, data=data, repeat=repeat,
                        work_dir=osp.join(work, f'{which}-{repeat}'))
            result = run_in_process(which, spec, work)
            result.update(throughput(result['stamps'], args.batch, args.skip))
            runs[which].append(result)
            print(f"{which} run {repeat + 1}: {result['images_per_s']:.2f} images/s "
                  f"({result['iterations']} iterations, {result['threads']} threads)",
                  flush=True)
    per_repeat = [u['images_per_s'] / o['images_per_s']  # time per image, ours / theirs
                  for o, u in zip(runs['ours'], runs['ultralytics'])]
    results = dict(
        setup=dict(scale=args.scale, image_size=args.image_size, batch=args.batch,
                   iters=args.iters, skip=args.skip, repeats=args.repeats,
                   workers=args.workers, threads=threads, device=device,
                   torch=torch.__version__),
        images_per_s={k: statistics.median(r['images_per_s'] for r in v)
                      for k, v in runs.items()},
        ratio=dict(ratio=statistics.median(per_repeat), low=min(per_repeat),
                   high=max(per_repeat), repeats=len(per_repeat)),
        runs={k: [{key: value for key, value in r.items() if key != 'stamps'} for r in v]
              for k, v in runs.items()})
    text = markdown(results)
    print(text)
    if args.out:
        timing.write_results(args.out, results, text)
    if not args.work_dir:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == '__main__':
    main()
