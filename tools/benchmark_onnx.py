#!/usr/bin/env python
"""Latency of exported ONNX models: ONNX Runtime vs PyTorch for each built-in family, and
our YOLO11n ONNX vs Ultralytics' own ONNX export of the same weights.

    python tools/benchmark_onnx.py                         # the four families, CPU
    python tools/benchmark_onnx.py --families yolo11 --checkpoint yolo11=work_dirs/x/epoch_24.pth
    python tools/benchmark_onnx.py --ultralytics --families   # only YOLO11n vs Ultralytics
    python tools/benchmark_onnx.py --device cuda            # ONNX Runtime's CUDA provider

For each family's joint config, in ``'stock'`` and ``'fused'`` inference: PyTorch
(``model.test_step`` on one preprocessed image: normalisation, network, post-processing)
against ONNX Runtime (the exported graph with NMS on the same image, preprocessed),
batch 1, in interleaved rounds; each ratio is the median of per-round ratios with a 95%
bootstrap interval, and a control (the first ONNX model against itself) shows what the
run can resolve. Weights are the config's initialisation (seed 0) unless
``--checkpoint FAMILY=PATH`` gives trained ones; the number of boxes reaching NMS, hence
its share of the time, depends on them.

``--ultralytics``: YOLO11n with COCO's 80 classes at 640 px, Ultralytics' model
(seed 0, every weight perturbed by N(0, 0.01) so that its outputs vary over the image)
converted to ours; our export (NMS in the graph; and ``--raw``) against
Ultralytics' ``export(format='onnx')`` (``nms=True``; and without NMS), their raw outputs
compared first. Writes JSON and markdown with ``--out``.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import warnings

import numpy as np
import torch
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmclipjoint  # noqa: E402,F401
from mmclipjoint.utils.families import BUILTIN_FAMILIES, family_configs  # noqa: E402
from mmclipjoint.utils.timing import (format_ratio, interleaved_rounds,  # noqa: E402
                                      ratio_with_interval, write_results)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
HEAD = {'faster-rcnn': 'model.roi_head.bbox_head'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--families', nargs='*', default=list(BUILTIN_FAMILIES),
                        choices=list(BUILTIN_FAMILIES))
    parser.add_argument('--modes', nargs='+', default=['stock', 'fused'],
                        choices=['stock', 'fused'])
    parser.add_argument('--checkpoint', nargs='+', default=[], metavar='FAMILY=PATH',
                        help='trained weights for a family (default: initialisation)')
    parser.add_argument('--ultralytics', action='store_true',
                        help='also YOLO11n vs Ultralytics\' ONNX export at --size')
    parser.add_argument('--size', type=int, default=640, help='--ultralytics image size')
    parser.add_argument('--rounds', type=int, default=30)
    parser.add_argument('--repeats', type=int, default=3, help='calls per round')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='threads of both runtimes (default: torch\'s)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--out', help='write the results here (.json and .md)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides of every family config (e.g. builtin_dataset.*)')
    return parser.parse_args(argv)


def session_options(threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return options


def providers(device):
    return ['CUDAExecutionProvider', 'CPUExecutionProvider'] if device.startswith('cuda') \
        else ['CPUExecutionProvider']


def initial_checkpoint(cfg, path):
    """The config's initialisation (seed 0) saved as a checkpoint with its class names."""
    from mmclipjoint.utils.inference import config_class_names
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model.init_weights()
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list(config_class_names(cfg))))), path)
    return path


def bench_family(family, mode, args, checkpoints, workdir):
    from mmengine.config import Config
    from mmengine.dataset import Compose, pseudo_collate

    from mmclipjoint.datasets import prepare_builtin_dataset
    from mmclipjoint.deploy.onnx_export import export_onnx, load_detector
    from mmclipjoint.deploy.onnx_runtime import OnnxDetector
    from mmclipjoint.pretraining.artifacts import prepare_builtin_weights
    config = family_configs(family, ROOT)[1]
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(args.cfg_options, **{
        f"{HEAD.get(family, 'model.bbox_head')}.contrastive_branch.inference": mode}))
    prepare_builtin_dataset(cfg, logger=lambda *_: None)
    prepare_builtin_weights(cfg, logger=lambda *_: None)
    checkpoint = checkpoints.get(family) or initial_checkpoint(
        cfg, osp.join(workdir, f'{family}.pth'))
    path = osp.join(workdir, f'{family}-{mode}.onnx')
    export_onnx(cfg, checkpoint, path, config_name=config)
    model, _ = load_detector(cfg, checkpoint)
    model.to(args.device)
    dataset_cfg = cfg.test_dataloader.dataset
    image = osp.join(dataset_cfg.data_root, dataset_cfg.data_prefix.img, 'test_00000.jpg')
    data = pseudo_collate([Compose(dataset_cfg.pipeline)(dict(img_path=image, img_id=0))])
    detector = OnnxDetector(path, providers=providers(args.device), threads=args.threads)
    import cv2
    batch, _ = detector.preprocess([cv2.imread(image)])

    def pytorch():
        with torch.no_grad():
            return model.test_step(data)

    def onnx():
        return detector.run(batch)

    sync = torch.cuda.synchronize if args.device.startswith('cuda') else (lambda: None)
    times = interleaved_rounds(dict(pytorch=pytorch, onnx=onnx), args.rounds, args.repeats,
                               sync=sync)
    return dict(family=family, mode=mode, config=osp.relpath(config, ROOT),
                pytorch_ms=1000 * float(np.median(times['pytorch'])),
                onnx_ms=1000 * float(np.median(times['onnx'])),
                onnx_over_pytorch=ratio_with_interval(times['onnx'], times['pytorch']),
                weights='trained' if family in checkpoints else 'initialisation'), onnx


def ultralytics_models(size, workdir):
    """(our NMS export, our raw export, Ultralytics' NMS export, Ultralytics' raw export)
    of YOLO11n (80 classes, Ultralytics' initialisation with seed 0)."""
    os.environ.setdefault('YOLO_OFFLINE', 'true')
    os.environ.setdefault('YOLO_CONFIG_DIR', tempfile.mkdtemp(prefix='ultralytics-'))
    from mmengine.config import Config
    from ultralytics import YOLO

    from mmclipjoint.deploy.onnx_export import export_onnx
    from mmclipjoint.utils.ultralytics import convert_yolo11_state_dict
    torch.manual_seed(0)
    theirs = YOLO('yolo11n.yaml')
    # Ultralytics' initialisation makes the head's outputs constant over the image; a
    # small perturbation of every weight makes the raw outputs worth comparing. The class
    # scores stay near Ultralytics' prior (about 1e-5): little reaches NMS in either graph.
    with torch.no_grad():
        for param in theirs.model.parameters():
            param.add_(torch.randn_like(param) * 0.01)
    names = [theirs.model.names[i] for i in range(len(theirs.model.names))]
    checkpoint = osp.join(workdir, 'yolo11n_coco.pth')
    torch.save(dict(state_dict=convert_yolo11_state_dict(theirs.model.state_dict()),
                    meta=dict(dataset_meta=dict(classes=names))), checkpoint)
    config = osp.join(ROOT, 'configs/yolo11/yolo11_n_8xb16-600e_coco.py')
    cfg = Config.fromfile(config)
    ours = {}
    for raw in (False, True):
        ours[raw] = osp.join(workdir, f'ours{"-raw" if raw else ""}.onnx')
        export_onnx(cfg, checkpoint, ours[raw], raw=raw, sample_size=size, config_name=config)
    exported = {}
    for nms in (True, False):
        # NMS settings of our COCO config: score 0.001, IoU 0.7, 300 per image.
        path = theirs.export(format='onnx', imgsz=size, nms=nms, simplify=False,
                             dynamic=False, conf=0.001, iou=0.7, max_det=300, verbose=False)
        exported[nms] = osp.join(workdir, f'ultralytics{"" if nms else "-raw"}.onnx')
        os.replace(path, exported[nms])
    return ours[False], ours[True], exported[True], exported[False]


def bench_ultralytics(args, workdir):
    import onnxruntime as ort
    ours, ours_raw, theirs, theirs_raw = ultralytics_models(args.size, workdir)
    sessions = {name: ort.InferenceSession(path, session_options(args.threads),
                                           providers=providers(args.device))
                for name, path in dict(ours=ours, ours_raw=ours_raw, theirs=theirs,
                                       theirs_raw=theirs_raw).items()}
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (1, 3, args.size, args.size)).astype(np.float32)
    # Ultralytics' graph takes RGB in [0, 1]; ours BGR in [0, 255], normalised inside.
    theirs_input = np.ascontiguousarray(image[:, ::-1] / 255)
    feeds = dict(ours={'images': image}, ours_raw={'images': image},
                 theirs={sessions['theirs'].get_inputs()[0].name: theirs_input},
                 theirs_raw={sessions['theirs_raw'].get_inputs()[0].name: theirs_input})
    (a, ), (b, ) = (sessions['ours_raw'].run(None, feeds['ours_raw']),
                    sessions['theirs_raw'].run(None, feeds['theirs_raw']))
    inside = ((b[:, 0] - b[:, 2] / 2 >= 0) & (b[:, 1] - b[:, 3] / 2 >= 0)
              & (b[:, 0] + b[:, 2] / 2 <= args.size) & (b[:, 1] + b[:, 3] / 2 <= args.size))
    agreement = dict(shape=list(a.shape), score_max_diff=float(np.abs(a[:, 4:] - b[:, 4:]).max()),
                     box_max_diff_inside=float(np.abs(a[:, :4] - b[:, :4])[
                         np.broadcast_to(inside[:, None], a[:, :4].shape)].max()))
    calls = {name: (lambda s=session, f=feeds[name]: s.run(None, f))
             for name, session in sessions.items()}
    calls['ours_again'] = calls['ours']  # the control: our graph against itself
    times = interleaved_rounds(calls, args.rounds, args.repeats)
    return dict(size=args.size, agreement=agreement,
                ms={name: 1000 * float(np.median(t)) for name, t in times.items()},
                nms=ratio_with_interval(times['ours'], times['theirs']),
                raw=ratio_with_interval(times['ours_raw'], times['theirs_raw']),
                control=ratio_with_interval(times['ours'], times['ours_again']))


def markdown(results):
    lines = []
    if results['families']:
        lines += ['| family | inference | PyTorch ms | ONNX Runtime ms | ONNX / PyTorch [95% CI] |',
                  '| --- | --- | --- | --- | --- |']
        for row in results['families']:
            lines.append(f"| {row['family']} | {row['mode']} | {row['pytorch_ms']:.1f} | "
                         f"{row['onnx_ms']:.1f} | {format_ratio(row['onnx_over_pytorch'])} |")
        lines.append(f"\ncontrol (an ONNX model against itself): "
                     f"{format_ratio(results['control'])}")
    if results.get('ultralytics'):
        u = results['ultralytics']
        lines += ['', f"YOLO11n, {u['size']} px, batch 1: ours / Ultralytics' ONNX export",
                  '', '| graph | ours ms | Ultralytics ms | ours / Ultralytics [95% CI] |',
                  '| --- | --- | --- | --- |',
                  f"| with NMS | {u['ms']['ours']:.1f} | {u['ms']['theirs']:.1f} | "
                  f"{format_ratio(u['nms'])} |",
                  f"| raw (B, 84, A) | {u['ms']['ours_raw']:.1f} | {u['ms']['theirs_raw']:.1f} "
                  f"| {format_ratio(u['raw'])} |",
                  '', f"raw outputs: scores max diff {u['agreement']['score_max_diff']:.2e}, "
                  f"boxes inside the image max diff "
                  f"{u['agreement']['box_max_diff_inside']:.2e} px; control (our graph "
                  f"against itself) {format_ratio(u['control'])}"]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    checkpoints = dict(item.split('=', 1) for item in args.checkpoint)
    results = dict(device=args.device, threads=args.threads, rounds=args.rounds,
                   repeats=args.repeats, families=[])
    with tempfile.TemporaryDirectory() as workdir:
        control_call = None
        for family in args.families:
            for mode in args.modes:
                row, call = bench_family(family, mode, args, checkpoints, workdir)
                control_call = control_call or call
                results['families'].append(row)
                print(f"{family} {mode}: PyTorch {row['pytorch_ms']:.1f} ms, ONNX Runtime "
                      f"{row['onnx_ms']:.1f} ms, ratio {format_ratio(row['onnx_over_pytorch'])}",
                      flush=True)
        if control_call:
            times = interleaved_rounds(dict(a=control_call, b=control_call), args.rounds,
                                       args.repeats)
            results['control'] = ratio_with_interval(times['a'], times['b'])
        if args.ultralytics:
            results['ultralytics'] = bench_ultralytics(args, workdir)
    text = markdown(results)
    print(text)
    if args.out:  # any ending of --out is dropped, as this tool always has
        write_results(osp.splitext(args.out)[0], results, text)
    return results


if __name__ == '__main__':
    main()
