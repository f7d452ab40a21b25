"""Cost of the contrastive branch: joint model vs stock baseline, measured in one run.

    python tools/benchmark_overhead.py                                  # built-in pair, CPU
    python tools/benchmark_overhead.py --pair yolo11        # a built-in pair by family name
    python tools/benchmark_overhead.py --baseline A.py --joint B.py --device cuda
    python tools/benchmark_overhead.py --builtin-data --image-scale 320 \
        --baseline configs/pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py \
        --joint configs/clip_joint/faster-rcnn_r50_fpn_clip-joint_1x_voc0712.py \
        --cfg-options model.backbone.init_cfg=None \
        model.roi_head.bbox_head.contrastive_branch.text_bank.init=random  # no VOC here

Reports, as joint / baseline ratios:
  * training iteration time: the models' own ``train_step`` (data preprocessor, loss,
    backward, optimizer step built from each config's ``optim_wrapper``) on the same
    batches;
  * training memory: on CUDA the peak allocated memory of that step; on the CPU (which
    has no allocator statistics) the tensors a training step holds at its peak:
    parameters, gradients, optimizer state and the activations saved for backward;
  * inference images/s through ``test_step`` at batch size 1, the joint model in the
    inference mode its config sets (``'stock'``: branch skipped).

The two models alternate in rounds (A B, B A, ...) and the medians are compared, so that
the drift of a shared, noisy machine falls on both. MMDetection's InferenceBenchmark
(tools/analysis_tools/benchmark.py) is CUDA-only and times one model per run, hence
this tool; it reuses mmengine's dataloader building and the models' step functions.
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import time
import warnings

import torch
from mmengine.config import Config, DictAction
from mmengine.device import get_max_cuda_memory
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import mmclipjoint  # noqa: F401
from mmclipjoint.datasets import prepare_builtin_dataset
from mmclipjoint.pretraining.artifacts import prepare_builtin_weights
from mmclipjoint.utils.branches import contrastive_branches
from mmclipjoint.utils.config import joint_heads
from mmclipjoint.utils.families import BUILTIN_FAMILIES, family_configs
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The Faster R-CNN pair by default; its joint config in the paper's setting, stock
# inference, so that the inference timing is that of the detector as shipped (the
# built-in joint config's fused inference adds the branch).
DEFAULT_BASELINE, DEFAULT_JOINT = family_configs('faster-rcnn', ROOT)
# The built-in-dataset pairs, stock and joint (the families of tools/study.py).
PAIRS = BUILTIN_FAMILIES


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--baseline', default=DEFAULT_BASELINE)
    parser.add_argument('--joint', default=DEFAULT_JOINT)
    parser.add_argument('--pair', choices=sorted(PAIRS),
                        help='a built-in-dataset pair instead of --baseline/--joint')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--rounds', type=int, default=4, help='alternating rounds per model')
    parser.add_argument('--train-iters', type=int, default=10, help='timed iterations a round')
    parser.add_argument('--infer-images', type=int, default=25, help='timed images a round')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--amp', action='store_true', help='train with AmpOptimWrapper (CUDA)')
    parser.add_argument('--builtin-data', action='store_true',
                        help="use the built-in dataset's loaders for both configs (for configs "
                             'whose dataset is not on this machine; timing needs no accuracy)')
    parser.add_argument('--image-scale', type=int, help='resize every image to this square scale')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides applied to both configs (key=value, as in tools/train.py)')
    parser.add_argument('--out', help='also write the results as JSON here')
    args = parser.parse_args()
    if args.pair:
        args.baseline, args.joint = (osp.join(ROOT, p) for p in PAIRS[args.pair])
    return args


def load_config(path, args):
    cfg = Config.fromfile(path)
    if args.builtin_data:
        shapes = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets/shapes_coco.py'))
        for key in ('train_dataloader', 'test_dataloader', 'builtin_dataset'):
            cfg[key] = shapes[key]
    if args.image_scale:
        for loader in (cfg.train_dataloader, cfg.test_dataloader):
            for transform in loader.dataset.pipeline:
                if transform['type'] == 'Resize':
                    transform['scale'] = (args.image_scale, args.image_scale)
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
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        optim_cfg.update(type='AmpOptimWrapper', loss_scale='dynamic')
    return model, build_optim_wrapper(model, optim_cfg)


def time_calls(fn, items, device, warmup):
    for item in items[:warmup]:
        fn(item)
    synchronize(device)
    start = time.perf_counter()
    for item in items[warmup:]:
        fn(item)
    synchronize(device)
    return (time.perf_counter() - start) / max(len(items) - warmup, 1)


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


def inference_mode(model):
    """The inference mode of the model's contrastive branches, 'n/a' without one."""
    modes = {branch.inference for branch in contrastive_branches(model).values()}
    return ','.join(sorted(modes)) or 'n/a'


def main():
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfgs = dict(baseline=load_config(args.baseline, args), joint=load_config(args.joint, args))
    for cfg in cfgs.values():
        prepare_builtin_dataset(cfg)
        prepare_builtin_weights(cfg)
    per_round = args.train_iters + args.warmup
    train_batches = fetch_batches(cfgs['baseline'].train_dataloader, per_round)
    test_cfg = copy.deepcopy(cfgs['baseline'].test_dataloader)
    test_cfg.update(batch_size=1)
    test_batches = fetch_batches(test_cfg, args.infer_images + args.warmup)

    models = {name: build(cfg, args.device, args.amp) for name, cfg in cfgs.items()}
    results = {name: dict(train_s=[], infer_s=[]) for name in models}
    for name, (model, optim) in models.items():
        if args.device.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()
            model.train()
            for batch in train_batches[:2]:
                model.train_step(copy.deepcopy(batch), optim)
            results[name]['train_memory_mb'] = get_max_cuda_memory()
        else:
            results[name]['train_memory_mb'] = cpu_training_tensor_bytes(
                model, optim, train_batches[0]) / 2**20

    for round_index in range(args.rounds):
        order = list(models) if round_index % 2 == 0 else list(models)[::-1]
        for name in order:
            model, optim = models[name]
            model.train()
            results[name]['train_s'].append(time_calls(
                lambda b: model.train_step(copy.deepcopy(b), optim), train_batches,
                args.device, args.warmup))
            model.eval()
            with torch.no_grad():
                results[name]['infer_s'].append(time_calls(
                    lambda b: model.test_step(copy.deepcopy(b)), test_batches, args.device,
                    args.warmup))
        print(f'round {round_index + 1}/{args.rounds}: ' + ', '.join(
            f'{n} train {results[n]["train_s"][-1]:.3f} s/iter' for n in models), flush=True)

    summary = {}
    for name, r in results.items():
        summary[name] = dict(train_s_per_iter=statistics.median(r['train_s']),
                             infer_images_per_s=1.0 / statistics.median(r['infer_s']),
                             train_memory_mb=r['train_memory_mb'])
    base, joint = summary['baseline'], summary['joint']
    summary['ratio'] = dict(
        train_time=joint['train_s_per_iter'] / base['train_s_per_iter'],
        train_memory=joint['train_memory_mb'] / base['train_memory_mb'],
        infer_throughput=joint['infer_images_per_s'] / base['infer_images_per_s'])
    summary['setup'] = dict(device=args.device, rounds=args.rounds, train_iters=args.train_iters,
                            infer_images=args.infer_images, amp=args.amp,
                            builtin_data=args.builtin_data, image_scale=args.image_scale,
                            train_batch_size=cfgs['baseline'].train_dataloader.batch_size,
                            baseline=args.baseline, joint=args.joint,
                            joint_inference=inference_mode(models['joint'][0]))
    memory_kind = 'peak CUDA allocated' if args.device.startswith('cuda') else \
        'params+grads+optimizer+saved activations'
    print(f'\n{"":<10}{"train s/iter":>14}{"train MB":>12}{"infer img/s":>14}   '
          f'({args.device}; memory: {memory_kind})')
    for name in ('baseline', 'joint'):
        s = summary[name]
        print(f'{name:<10}{s["train_s_per_iter"]:>14.4f}{s["train_memory_mb"]:>12.1f}'
              f'{s["infer_images_per_s"]:>14.2f}')
    ratio = summary['ratio']
    print(f'{"joint/base":<10}{ratio["train_time"]:>14.3f}{ratio["train_memory"]:>12.3f}'
          f'{ratio["infer_throughput"]:>14.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
