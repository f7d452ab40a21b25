"""Cost of the contrastive branch: joint model vs stock baseline, measured in one run.

    python tools/benchmark_overhead.py                          # the Faster R-CNN pair, CPU
    python tools/benchmark_overhead.py --pair yolo11 yolox      # built-in pairs by family
    python tools/benchmark_overhead.py --pair all --out benchmarks/overhead_cpu
    python tools/benchmark_overhead.py --baseline A.py --joint B.py --device cuda [--amp]
    python tools/benchmark_overhead.py --pair rtmdet --checkpoint work_dirs/x/epoch_12.pth
    python tools/benchmark_overhead.py --builtin-data --image-scale 320 \
        --baseline configs/pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py \
        --joint configs/clip_joint/faster-rcnn_r50_fpn_clip-joint_1x_voc0712.py \
        --cfg-options model.backbone.init_cfg=None \
        model.roi_head.bbox_head.contrastive_branch.text_bank.init=random  # no VOC here

Reports, as joint / stock ratios of time (below 1: the joint model is faster):

  * training step: the models' own ``train_step`` (data preprocessor, loss, backward,
    optimizer step built from each config's ``optim_wrapper``) on the same batches;
  * inference: ``test_step`` at batch size 1 with the branch skipped (``'stock'``) and
    with the branch's probabilities fused in (``'fused'``);
  * training memory: on CUDA the peak allocated memory of a step; on the CPU (which has
    no allocator statistics) the tensors a step holds at its peak: parameters,
    gradients, optimizer state and the activations saved for backward.

Both models run the same detector weights (the stock model's initialisation, or with
``--checkpoint`` a trained joint model's, given to the stock model without the branch):
the number of boxes reaching NMS, hence inference time, depends on the weights, and at
initialisation the fused scores pass the score threshold far more often than trained
ones do, so fused inference is best timed with ``--checkpoint``. Inference is timed
first, while the weights are still shared (training changes them).

The computations run in interleaved rounds (mmclipjoint.utils.timing): each round times
``--train-repeats`` steps (``--infer-repeats`` images) of each, in a random order,
after untimed warm-up calls; a ratio is the median of the per-round ratios with a 95%
bootstrap interval over rounds. A control, the stock model timed against itself in the
same rounds, reads 1.00 within what the run can resolve: a ratio is only meaningful to
the width of its control's interval. Rounds continue past ``--rounds`` until the
controls' intervals are inside 1 +- ``--precision`` (0.02) and the ratios' within
+- 0.02, or ``--max-rounds``; the results say how many ran and whether they resolved.
Threads are pinned (``--threads``).

MMDetection's InferenceBenchmark (tools/analysis_tools/benchmark.py) is CUDA-only and
times one model per run, hence this tool; it reuses mmengine's dataloader building and
the models' step functions. ``--out STEM`` writes STEM.json and STEM.md.
"""
import argparse
import copy
import itertools
import os.path as osp
import statistics
import sys
import warnings

import torch
from mmengine.config import Config, DictAction
from mmengine.device import get_max_cuda_memory
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner, load_checkpoint

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmclipjoint  # noqa: E402,F401
from mmclipjoint.datasets import prepare_builtin_dataset  # noqa: E402
from mmclipjoint.engine.hooks import apply_channels_last  # noqa: E402
from mmclipjoint.pretraining.artifacts import prepare_builtin_weights  # noqa: E402
from mmclipjoint.utils import timing  # noqa: E402
from mmclipjoint.utils.branches import contrastive_branches  # noqa: E402
from mmclipjoint.utils.config import joint_heads  # noqa: E402
from mmclipjoint.utils.families import BUILTIN_FAMILIES, family_configs  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The Faster R-CNN pair by default: its joint config in the paper's setting.
DEFAULT_BASELINE, DEFAULT_JOINT = family_configs('faster-rcnn', ROOT)
# The built-in-dataset pairs, stock and joint (the families of tools/study.py).
PAIRS = BUILTIN_FAMILIES


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--baseline', default=DEFAULT_BASELINE)
    parser.add_argument('--joint', default=DEFAULT_JOINT)
    parser.add_argument('--pair', nargs='+', choices=sorted(PAIRS) + ['all'],
                        help="built-in-dataset pairs instead of --baseline/--joint ('all': "
                             'every family)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help="CPU threads, pinned for the whole run (default: torch's)")
    timing.add_round_arguments(parser)
    parser.add_argument('--train-repeats', type=int, default=3,
                        help='training steps of each model per round')
    parser.add_argument('--infer-repeats', type=int, default=20,
                        help='images of each model per round')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed calls of each computation before the rounds')
    parser.add_argument('--checkpoint',
                        help='trained weights of the joint model (its detector weights go to '
                             'the stock model too); default: both initialised from seed 0, '
                             "the joint model's detector given the stock one's weights")
    parser.add_argument('--amp', action='store_true', help='train with AmpOptimWrapper (CUDA)')
    parser.add_argument('--builtin-data', action='store_true',
                        help="use the built-in dataset's loaders for both configs (for configs "
                             'whose dataset is not on this machine; timing needs no accuracy)')
    parser.add_argument('--image-scale', type=int, nargs='+', metavar='SIZE',
                        help="the Resize transforms' scale: one size (square) or WIDTH HEIGHT "
                             '(e.g. 1000 600, with the config\'s keep_ratio)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides applied to both configs (key=value, as in tools/train.py)')
    parser.add_argument('--out', help='write the results to OUT.json and OUT.md')
    args = parser.parse_args(argv)
    if args.pair and 'all' in args.pair:
        args.pair = list(PAIRS)
    if args.checkpoint and args.pair and len(args.pair) > 1:
        parser.error('--checkpoint is one joint model\'s: give one --pair (or --joint)')
    timing.check_round_arguments(parser, args)
    if args.image_scale and len(args.image_scale) > 2:
        parser.error('--image-scale takes one size or WIDTH HEIGHT')
    return args


def load_config(path, args):
    cfg = Config.fromfile(path)
    if args.builtin_data:
        # The built-in images and loaders, at the config's own training batch size.
        batch_size = cfg.train_dataloader.batch_size
        shapes = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets/shapes_coco.py'))
        for key in ('train_dataloader', 'test_dataloader', 'builtin_dataset'):
            cfg[key] = shapes[key]
        cfg.train_dataloader.batch_size = batch_size
    if args.image_scale:
        scale = tuple(args.image_scale) * (2 if len(args.image_scale) == 1 else 1)
        for loader in (cfg.train_dataloader, cfg.test_dataloader):
            for transform in loader.dataset.pipeline:
                if transform['type'] == 'Resize':
                    transform['scale'] = scale
    # Only the joint config has the branch; a key absent from a config is left alone.
    options = {k: v for k, v in args.cfg_options.items()
               if '.contrastive_branch.' not in k or joint_heads(cfg.model)}
    cfg.merge_from_dict(options)
    return cfg


def synchronize(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def fetch_batches(loader_cfg, count):
    loader_cfg = copy.deepcopy(loader_cfg)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    batches = []
    while len(batches) < count:
        for batch in Runner.build_dataloader(loader_cfg):
            batches.append(batch)
            if len(batches) == count:
                break
    return batches


def build(cfg, device, amp):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the demo bank's explicit init='random'
        model.init_weights()
    model.to(device)
    apply_channels_last(model, cfg)  # as the config's ChannelsLastHook would
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        optim_cfg.update(type='AmpOptimWrapper', loss_scale='dynamic')
    return model, build_optim_wrapper(model, optim_cfg)


def cpu_training_tensor_bytes(model, optim, batch):
    """Bytes held at the peak of a training step: params, grads, optimizer state, and the
    activations autograd saves for backward (each storage counted once)."""
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    optim.zero_grad()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        data = model.data_preprocessor(copy.deepcopy(batch), training=True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    optim.step()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters()
                if p.grad is not None)
    state = sum(v.numel() * v.element_size() for s in optim.optimizer.state.values()
                for v in s.values() if torch.is_tensor(v))
    optim.zero_grad()
    return params + grads + state + sum(saved.values())


def training_memory_mb(model, optim, batches, device):
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        model.train()
        for batch in batches[:2]:
            model.train_step(copy.deepcopy(batch), optim)
        return get_max_cuda_memory()
    return cpu_training_tensor_bytes(model, optim, batches[0]) / 2**20


def share_weights(stock, joint, from_joint: bool = False) -> bool:
    """Give both models the same detector weights: the stock model's (or, with
    ``from_joint``, a trained joint model's without its branch).

    Inference time depends on the weights (how many boxes pass the score threshold and
    reach NMS), and the two models' initialisations differ (the branch draws from the
    same random stream); with shared weights the joint model in ``'stock'`` mode runs
    exactly the stock detector's computation. Returns False (weights left as they are)
    when the detectors differ outside their branches."""
    stock_state, joint_state = stock.state_dict(), joint.state_dict()
    detector = {k for k in joint_state if '.contrastive_branch.' not in k}
    if detector != set(stock_state) or any(stock_state[k].shape != joint_state[k].shape
                                           for k in detector):
        return False
    if from_joint:
        stock.load_state_dict({k: joint_state[k] for k in detector})
    else:
        joint.load_state_dict(stock_state, strict=False)
    return True


def set_inference_mode(model, mode):
    for branch in contrastive_branches(model).values():
        branch.inference = mode


def train_call(model, optim, batches):
    """A training step on the next of ``batches`` (cycled): every computation timed
    with its own call sees the same sequence of batches."""
    cycle = itertools.cycle(batches)

    def step():
        model.train()
        model.train_step(copy.deepcopy(next(cycle)), optim)
    return step


def infer_call(model, batches, mode=None):
    cycle = itertools.cycle(batches)

    def step():
        if mode is not None:
            set_inference_mode(model, mode)
        model.eval()
        with torch.no_grad():
            model.test_step(copy.deepcopy(next(cycle)))
    return step


def bench_pair(name, baseline, joint, args):
    """One pair's ratios, memory and per-call times."""
    cfgs = dict(baseline=load_config(baseline, args), joint=load_config(joint, args))
    for cfg in cfgs.values():
        prepare_builtin_dataset(cfg)
        prepare_builtin_weights(cfg)
    train_batches = fetch_batches(cfgs['baseline'].train_dataloader, args.train_repeats)
    test_cfg = copy.deepcopy(cfgs['baseline'].test_dataloader)
    test_cfg.update(batch_size=1)
    test_batches = fetch_batches(test_cfg, args.infer_repeats)
    models = {key: build(cfg, args.device, args.amp) for key, cfg in cfgs.items()}
    (stock, stock_optim), (joint_model, joint_optim) = models['baseline'], models['joint']
    if not contrastive_branches(joint_model):
        raise SystemExit(f'{joint}: the model has no contrastive branch; fix: give '
                         f'--joint a config with a joint head')
    if args.checkpoint:
        load_checkpoint(joint_model, args.checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    shared = share_weights(stock, joint_model, from_joint=bool(args.checkpoint))
    if args.checkpoint and not shared:
        raise SystemExit(f'{args.checkpoint}: the stock detector of {baseline} differs from '
                         f"the joint one's outside its branch, so the checkpoint's weights "
                         f'cannot be given to both; fix: a pair whose configs differ only in '
                         f'the branch')
    sync = (lambda: synchronize(args.device))
    infer_resolved = timing.resolves([('joint_stock', 'stock'), ('joint_fused', 'stock')],
                                     [('control', 'stock')], args.precision)
    train_resolved = timing.resolves([('joint', 'stock')], [('control', 'stock')], args.precision)
    # Inference first, while the shared weights are still the same in both models.
    inference = timing.interleaved_rounds(
        dict(stock=infer_call(stock, test_batches),
             joint_stock=infer_call(joint_model, test_batches, 'stock'),
             joint_fused=infer_call(joint_model, test_batches, 'fused'),
             control=infer_call(stock, test_batches)),
        args.rounds, args.infer_repeats, args.warmup, sync, max_rounds=args.max_rounds,
        precise_enough=infer_resolved)
    print(f'{name}: inference rounds done', flush=True)
    memory = {key: training_memory_mb(model, optim, train_batches, args.device)
              for key, (model, optim) in models.items()}
    train = timing.interleaved_rounds(
        dict(stock=train_call(stock, stock_optim, train_batches),
             joint=train_call(joint_model, joint_optim, train_batches),
             control=train_call(stock, stock_optim, train_batches)),
        args.rounds, args.train_repeats, args.warmup, sync, max_rounds=args.max_rounds,
        precise_enough=train_resolved)
    ms = lambda times: 1000 * statistics.median(times)  # noqa: E731
    over = lambda times, key: timing.ratio_with_interval(times[key], times['stock'])  # noqa
    return dict(
        pair=name, baseline=osp.relpath(baseline, ROOT), joint=osp.relpath(joint, ROOT),
        train_batch_size=cfgs['baseline'].train_dataloader.batch_size,
        shared_weights=shared,
        train_ms=dict(stock=ms(train['stock']), joint=ms(train['joint'])),
        infer_ms=dict(stock=ms(inference['stock']), joint_stock=ms(inference['joint_stock']),
                      joint_fused=ms(inference['joint_fused'])),
        train_memory_mb=dict(stock=memory['baseline'], joint=memory['joint']),
        ratio=dict(
            train_time=over(train, 'joint'), train_control=over(train, 'control'),
            train_memory=memory['joint'] / memory['baseline'],
            infer_time_stock=over(inference, 'joint_stock'),
            infer_time_fused=over(inference, 'joint_fused'),
            infer_control=over(inference, 'control')),
        # Rounds run, and whether they resolved --precision (else --max-rounds stopped them).
        rounds_run=dict(train=len(train['stock']), inference=len(inference['stock'])),
        resolved=dict(train=train_resolved(train), inference=infer_resolved(inference)),
        rounds=dict(train=train, inference=inference))


def markdown(results):
    setup = results['setup']
    memory = ('peak CUDA allocated' if setup['device'].startswith('cuda')
              else 'params + grads + optimizer state + saved activations')
    lines = [f"{setup['device']}, {setup['threads']} threads, rounds of "
             f"{setup['train_repeats']} steps / {setup['infer_repeats']} images "
             f"({setup['rounds']} to {setup['max_rounds']} rounds, until the controls are "
             f"inside 1 +- {setup['precision']} and the ratios' intervals within "
             f"+- {setup['precision']})"
             f"{', AMP' if setup['amp'] else ''}; joint / stock time, median of per-round "
             f'ratios [95% bootstrap interval]; control = stock against itself; rounds: '
             f'training, inference (* = --max-rounds reached before the precision)', '',
             '| pair | train step | control | train memory | inference, stock | inference, '
             'fused | control | stock ms / step, / image | rounds |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for row in results['pairs']:
        r = row['ratio']
        lines.append(
            f"| {row['pair']} | {timing.format_ratio(r['train_time'])} | "
            f"{timing.format_ratio(r['train_control'])} | {r['train_memory']:.3f} | "
            f"{timing.format_ratio(r['infer_time_stock'])} | "
            f"{timing.format_ratio(r['infer_time_fused'])} | "
            f"{timing.format_ratio(r['infer_control'])} | {row['train_ms']['stock']:.0f}, "
            f"{row['infer_ms']['stock']:.1f} | "
            + ', '.join(f"{row['rounds_run'][k]}{'' if row['resolved'][k] else '*'}"
                        for k in ('train', 'inference')) + ' |')
    lines += ['', f'train memory: {memory}.']
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    if args.pair:
        pairs = [(name, *family_configs(name, ROOT)) for name in args.pair]
    else:
        pairs = [(osp.splitext(osp.basename(args.joint))[0], args.baseline, args.joint)]
    results = dict(setup=dict(device=args.device, threads=args.threads, rounds=args.rounds,
                              max_rounds=args.max_rounds, precision=args.precision,
                              train_repeats=args.train_repeats,
                              infer_repeats=args.infer_repeats, warmup=args.warmup,
                              amp=args.amp, builtin_data=args.builtin_data,
                              image_scale=args.image_scale, cfg_options=args.cfg_options,
                              checkpoint=args.checkpoint,
                              torch=torch.__version__),
                   pairs=[])
    for name, baseline, joint in pairs:
        row = bench_pair(name, baseline, joint, args)
        results['pairs'].append(row)
        r = row['ratio']
        print(f"{name}: train {timing.format_ratio(r['train_time'])} (control "
              f"{timing.format_ratio(r['train_control'])}), inference stock "
              f"{timing.format_ratio(r['infer_time_stock'])}, fused "
              f"{timing.format_ratio(r['infer_time_fused'])} (control "
              f"{timing.format_ratio(r['infer_control'])}), memory {r['train_memory']:.3f}",
              flush=True)
    text = markdown(results)
    print(text)
    if args.out:
        timing.write_results(args.out, results, text)
    return results


if __name__ == '__main__':
    main()
