#!/usr/bin/env python
"""The prepared GPU check: everything this project measures on CUDA, in one run that
stops by its own deadline and writes one results file.

    python benchmarks/gpu/check.py --dry-run            # any machine: build and validate
    bash benchmarks/gpu/run.sh 540                      # the GPU machine (wheels carried)
    python benchmarks/gpu/check.py --deadline-s 540 --only overhead yolo11-vs-ultralytics

Steps, in order of what matters most when time runs out (each is a command of this
repository's tools, run in a process of its own with its own time limit, never past
the deadline):

1. ``stack``: torch, mmcv's CUDA ops (NMS on the GPU), mmdet, mmengine, open_clip.
2. ``overhead``: ``tools/benchmark_overhead.py --device cuda --pair all`` (joint / stock
   training step, inference stock and fused, peak memory; intervals and control).
3. ``yolo11-vs-ultralytics``: ``tools/benchmark_yolo11_vs_ultralytics.py --device cuda``,
   training step and ``predict`` (needs ``ultralytics`` among the carried wheels).
4. ``train-amp-FAMILY``: each family's joint config trained for about 300 iterations
   with ``--amp`` (``tools/train.py``); s/iter and peak memory from its log.
5. ``mmdet-benchmark``: MMDetection's ``benchmark.py`` on the YOLO11n checkpoint of 4.
6. ``projection-*``: the paper's configs at their resolution (Faster R-CNN R50-FPN
   VOC0712 at 1000x600, YOLO11n and YOLO11s COCO at 640 px), stock and joint, some tens
   of iterations on the built-in images at that scale (``benchmark_overhead.py
   --builtin-data``); projected to the paper's schedules (VOC 12 epochs of 16,551
   images; COCO 600 epochs of 117,266) on 1 and 8 GPUs, assuming linear scaling and
   data loading that keeps up: a projection, not a measurement.
7. ``nccl``: a 2-process NCCL run of the YOLO11n joint config (``tools/dist_train.sh``)
   where the machine has two GPUs; skipped, with that reason, otherwise.

``--dry-run`` builds every step's command line and validates it without running it:
the tool exists, our tools' argument parsers accept it, MMDetection's tools' parsers
accept it, each config loads and every ``--cfg-options`` key exists in it. Results go
to ``--out`` (``.json`` and ``.md``), rewritten after every step, so that a run cut
short still leaves what it measured.
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import re
import runpy
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

# The paper's schedules, for the projection: images per epoch, epochs, images per GPU.
VOC_TRAIN_IMAGES = 16551  # VOC2007 + VOC2012 trainval
COCO_TRAIN_IMAGES = 117266  # COCO 2017 train (images with annotations)
JOINT_BANK_RANDOM = 'text_bank.init=random'  # no CLIP ViT-B/32 weights on that machine
TRAIN_ITERATIONS = 300


@dataclass
class Step:
    name: str
    argv: List[str]  # after the interpreter: a tool path and its arguments
    timeout_s: int
    needs: Dict[str, bool] = field(default_factory=dict)  # requirement -> met
    configs: List[str] = field(default_factory=list)
    options: List[str] = field(default_factory=list)  # --cfg-options of those configs
    parse: Optional[Callable[[str, str], dict]] = None  # (output, workdir) -> metrics
    launcher: Optional[str] = None  # e.g. 'bash' for dist_train.sh

    def command(self) -> List[str]:
        return [self.launcher] + self.argv if self.launcher else [sys.executable] + self.argv


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--deadline-s', type=float, default=540,
                        help='stop starting steps, and stop a running one, after this many '
                             'seconds (default 9 minutes)')
    parser.add_argument('--dry-run', action='store_true',
                        help='build and validate every command; run nothing')
    parser.add_argument('--only', nargs='+', metavar='STEP',
                        help='run only the steps whose names start with these')
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'gpu_check'))
    parser.add_argument('--out', default=osp.join(ROOT, 'benchmarks', 'gpu', 'results'),
                        help='results stem: OUT.json and OUT.md')
    return parser.parse_args(argv)


def machine() -> dict:
    import torch
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return dict(cuda=gpus > 0, gpus=gpus, cpus=os.cpu_count(), torch=torch.__version__,
                gpu_name=torch.cuda.get_device_name(0) if gpus else None,
                python=sys.version.split()[0])


def has_module(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


# ---- result parsers -------------------------------------------------------------

def last_json_line(output, workdir):
    return json.loads(output.strip().splitlines()[-1])


def json_file(path: str) -> Callable[[str, str], dict]:
    def parse(output, workdir):
        with open(path) as f:
            return json.load(f)
    return parse


def training_log(work_dir: str) -> Callable[[str, str], dict]:
    """Median s/iter over the second half of the logged iterations, peak memory."""
    def parse(output, workdir):
        logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
        records = [json.loads(line) for line in open(logs[-1])] if logs else []
        records = [r for r in records if 'time' in r and 'iter' in r]
        if not records:
            raise RuntimeError(f'no training iterations logged under {work_dir}')
        late = sorted(r['time'] for r in records[len(records) // 2:])
        return dict(iterations=records[-1]['iter'], s_per_iter=late[len(late) // 2],
                    memory_mb=max(r.get('memory', 0) for r in records),
                    last_loss=records[-1].get('loss'))
    return parse


def mmdet_benchmark(output, workdir):
    fps = re.findall(r'fps: ([0-9.]+) img ?/ ?s', output)
    if not fps:
        raise RuntimeError('benchmark.py printed no fps')
    return dict(fps=float(fps[-1]))


def projection(out_json: str, images: int, epochs: int) -> Callable[[str, str], dict]:
    """benchmark_overhead's per-step times and memory -> the paper's schedule's wall
    time on 1 and 8 GPUs (linear scaling, data loading keeping up: a projection)."""
    def parse(output, workdir):
        with open(out_json) as f:
            result = json.load(f)
        (row, ) = result['pairs']
        batch = row['train_batch_size']
        steps_1 = math.ceil(images / batch) * epochs
        hours = {}
        for model in ('stock', 'joint'):
            seconds = row['train_ms'][model] / 1000 * steps_1
            hours[model] = dict(gpus_1=seconds / 3600, gpus_8=seconds / 8 / 3600)
        return dict(batch_per_gpu=batch, step_ms=row['train_ms'],
                    memory_mb=row['train_memory_mb'], projected_hours=hours,
                    train_time_ratio=row['ratio']['train_time'],
                    schedule=f'{epochs} epochs x {images} images')
    return parse


# ---- the steps ----------------------------------------------------------------------

def build_steps(work: str, info: dict) -> List[Step]:
    from mmclipjoint.utils.families import BUILTIN_FAMILIES
    cuda, two_gpus = info['cuda'], info['gpus'] >= 2
    ultralytics = has_module('ultralytics')
    steps = [Step('stack', ['benchmarks/gpu/stack_check.py'], 120, parse=last_json_line)]
    overhead = osp.join(work, 'overhead_cuda')
    steps.append(Step(
        'overhead', ['tools/benchmark_overhead.py', '--device', 'cuda', '--pair', 'all',
                     '--rounds', '10', '--max-rounds', '30', '--train-repeats', '5',
                     '--infer-repeats', '20',
                     '--out', overhead],
        240, needs=dict(cuda=cuda), parse=json_file(overhead + '.json')))
    for task in ('train', 'predict'):
        out = osp.join(work, f'yolo11_vs_ultralytics_{task}')
        steps.append(Step(
            f'yolo11-vs-ultralytics-{task}',
            ['tools/benchmark_yolo11_vs_ultralytics.py', '--device', 'cuda', '--task', task,
             '--scale', 'n', '--image-size', '640', '--batch', '16' if task == 'train' else '1',
             '--rounds', '10', '--max-rounds', '40', '--out', out],
            90, needs=dict(cuda=cuda, ultralytics=ultralytics), parse=json_file(out + '.json')))
    checkpoints = {}
    for family, (_, joint) in BUILTIN_FAMILIES.items():
        from mmengine.config import Config
        cfg = Config.fromfile(osp.join(ROOT, joint))
        batch = cfg.train_dataloader.batch_size
        num_train = cfg.get('builtin_dataset', {}).get('num_train', 400)
        epochs = max(1, math.ceil(TRAIN_ITERATIONS * batch / num_train))
        work_dir = osp.join(work, f'train-amp-{family}')
        options = [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs + 1}',
                   f'default_hooks.checkpoint.interval={epochs}',
                   'default_hooks.logger.interval=10', 'train_dataloader.num_workers=8']
        checkpoints[family] = osp.join(work_dir, f'epoch_{epochs}.pth')
        steps.append(Step(
            f'train-amp-{family}', ['tools/train.py', joint, '--amp', '--work-dir', work_dir,
                                    '--cfg-options', *options],
            120, needs=dict(cuda=cuda), configs=[joint], options=options,
            parse=training_log(work_dir)))
    yolo11_joint = BUILTIN_FAMILIES['yolo11'][1]
    options = ['test_dataloader.num_workers=4']
    steps.append(Step(
        'mmdet-benchmark', ['tools/analysis_tools/benchmark.py', yolo11_joint, '--checkpoint',
                            checkpoints['yolo11'], '--task', 'inference', '--max-iter', '300',
                            '--log-interval', '100', '--cfg-options', *options],
        90, needs=dict(cuda=cuda), configs=[yolo11_joint], options=options,
        parse=mmdet_benchmark))
    random_bank = {'voc': f'model.roi_head.bbox_head.contrastive_branch.{JOINT_BANK_RANDOM}',
                   'coco': f'model.bbox_head.contrastive_branch.{JOINT_BANK_RANDOM}'}
    real = [
        ('projection-faster-rcnn-r50-voc', 'configs/pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py',
         'configs/clip_joint/faster-rcnn_r50_fpn_clip-joint_1x_voc0712.py', ['1000', '600'],
         ['model.backbone.init_cfg=None', random_bank['voc']], VOC_TRAIN_IMAGES, 12),
    ] + [
        (f'projection-yolo11{s}-coco', f'configs/yolo11/yolo11_{s}_8xb16-600e_coco.py',
         f'configs/clip_joint/yolo11_{s}_clip-joint_8xb16-600e_coco.py', ['640'],
         [random_bank['coco']], COCO_TRAIN_IMAGES, 600) for s in ('n', 's')]
    for name, stock, joint, scale, options, images, epochs in real:
        out = osp.join(work, name)
        steps.append(Step(
            name, ['tools/benchmark_overhead.py', '--device', 'cuda', '--builtin-data',
                   '--image-scale', *scale, '--baseline', stock,
                   '--joint', joint, '--rounds', '4', '--max-rounds', '4', '--train-repeats', '5',
                   '--infer-repeats', '5', '--amp', '--out', out, '--cfg-options', *options],
            120, needs=dict(cuda=cuda), configs=[stock, joint], options=options,
            parse=projection(
                out + '.json', images, epochs)))
    nccl_dir = osp.join(work, 'nccl')
    options = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=2',
               'default_hooks.logger.interval=5']
    steps.append(Step(
        'nccl', [osp.join('tools', 'dist_train.sh'), yolo11_joint, '2', '--work-dir', nccl_dir,
                 '--cfg-options', *options],
        120, needs=dict(cuda=cuda, two_gpus=two_gpus), configs=[yolo11_joint],
        options=options, parse=training_log(nccl_dir), launcher='bash'))
    return steps


# ---- validation (dry run) -----------------------------------------------------------

def option_key_exists(cfg, key: str) -> bool:
    """Whether ``key`` (dotted, list indices as numbers) names a field of ``cfg`` (the
    check's options change existing fields only: a misspelt one would add a new field
    that nothing reads)."""
    node = cfg.to_dict()
    for part in key.split('.'):
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return False
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def parser_of(tool: str):
    """The tool's parse_args: ours take argv; MMDetection's read sys.argv."""
    from mmclipjoint.utils.tools import mmdet_tool_path
    if tool in ('tools/train.py', 'tools/analysis_tools/benchmark.py'):
        source = mmdet_tool_path(tool.split('tools/', 1)[1])
        namespace = runpy.run_path(source, run_name='gpu_check_validation')

        def parse(argv):
            saved, sys.argv = sys.argv, [source] + argv
            try:
                return namespace['parse_args']()
            finally:
                sys.argv = saved
        return parse
    namespace = runpy.run_path(osp.join(ROOT, tool), run_name='gpu_check_validation')
    return namespace['parse_args']


def validate(step: Step) -> List[str]:
    """What is wrong with the step's command line (empty: nothing)."""
    from mmengine.config import Config

    from mmclipjoint.utils.config import joint_heads
    problems = []
    tool = step.argv[0]
    if not osp.isfile(osp.join(ROOT, tool)):
        return [f'{tool} does not exist']
    if tool.endswith('.py') and step.launcher is None:
        try:
            parser_of(tool)(step.argv[1:])
        except SystemExit as error:
            problems.append(f'{tool} refuses its arguments (exit {error.code}): '
                            f'{shlex.join(step.argv[1:])}')
    for config in step.configs:
        path = osp.join(ROOT, config)
        if not osp.isfile(path):
            problems.append(f'config {config} does not exist')
            continue
        cfg = Config.fromfile(path)
        for option in step.options:
            key = option.split('=', 1)[0]
            if '.contrastive_branch.' in key and not joint_heads(cfg.model):
                continue  # benchmark_overhead gives branch options to the joint model only
            if not option_key_exists(cfg, key):
                problems.append(f'{config}: --cfg-options {key} names no field of the config')
    return problems


# ---- running --------------------------------------------------------------------------

def run_step(step: Step, seconds: float, log_dir: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]),
        MMCLIPJOINT_FORMAT_CONFIG='0')
    if step.launcher == 'bash':
        env['PYTHON'] = sys.executable
    start = time.monotonic()
    with open(osp.join(log_dir, f'{step.name}.log'), 'w') as log:
        proc = subprocess.Popen(step.command(), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            output, _ = proc.communicate()
            timed_out = True
        log.write(output)
    row = dict(seconds=round(time.monotonic() - start, 1), returncode=proc.returncode,
               output_tail=output[-1500:])
    if timed_out:
        row['status'] = f'stopped after {seconds:.0f} s (its limit or the deadline)'
    elif proc.returncode != 0:
        row['status'] = 'failed'
    else:
        try:
            row.update(status='ok', metrics=step.parse(output, log_dir) if step.parse else {})
        except Exception as error:  # a result that cannot be read is reported, not fatal
            row.update(status='ok, result unreadable', error=repr(error))
    return row


def markdown(results: dict) -> str:
    info = results['machine']
    lines = [f"GPU check: {info.get('gpu_name') or 'no GPU'} x {info['gpus']}, "
             f"{info['cpus']} CPUs, torch {info['torch']}; deadline {results['deadline_s']:.0f} s"
             f"{' (dry run)' if results['dry_run'] else ''}", '',
             '| step | status | s | result |', '| --- | --- | --- | --- |']
    for row in results['steps']:
        metrics = row.get('metrics') or {}
        summary = ', '.join(f'{k}={v}' for k, v in metrics.items()
                            if isinstance(v, (int, float, str)))[:200]
        lines.append(f"| {row['name']} | {row['status']} | {row.get('seconds', '')} | "
                     f'{summary} |')
    for row in results['steps']:
        hours = (row.get('metrics') or {}).get('projected_hours')
        if hours:
            lines.append(f"\n{row['name']} (a projection from {row['metrics']['schedule']}, "
                         f"batch {row['metrics']['batch_per_gpu']} per GPU): " + '; '.join(
                             f"{m}: {h['gpus_1']:.1f} h on 1 GPU, {h['gpus_8']:.1f} h on 8"
                             for m, h in hours.items()))
    return '\n'.join(lines) + '\n'


def save(results: dict, stem: str) -> None:
    from mmclipjoint.utils.timing import write_results
    write_results(stem, results, markdown(results))


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.monotonic()
    info = machine()
    os.makedirs(args.work_dir, exist_ok=True)
    steps = build_steps(args.work_dir, info)
    if args.only:
        steps = [s for s in steps if any(s.name.startswith(prefix) for prefix in args.only)]
    results = dict(machine=info, deadline_s=args.deadline_s, dry_run=args.dry_run, steps=[])
    for step in steps:
        row = dict(name=step.name, command=shlex.join(step.command()))
        problems = validate(step)
        if problems:
            row.update(status='invalid', problems=problems)
        elif args.dry_run:
            row['status'] = 'valid (dry run)'
        elif not all(step.needs.values()):
            row['status'] = 'skipped: needs ' + ', '.join(
                name for name, met in step.needs.items() if not met)
        else:
            left = args.deadline_s - (time.monotonic() - start)
            if left < 15:
                row['status'] = 'skipped: deadline'
            else:
                print(f'[gpu check] {step.name} (at most {min(step.timeout_s, left):.0f} s)',
                      flush=True)
                row.update(run_step(step, min(step.timeout_s, left), args.work_dir))
        print(f"[gpu check] {step.name}: {row['status']}", flush=True)
        results['steps'].append(row)
        save(results, args.out)
    results['seconds'] = round(time.monotonic() - start, 1)
    save(results, args.out)
    print(markdown(results))
    if any(row['status'] == 'invalid' for row in results['steps']):
        raise SystemExit('gpu check: invalid steps (see problems in ' + args.out + '.json)')
    return results


if __name__ == '__main__':
    main()
