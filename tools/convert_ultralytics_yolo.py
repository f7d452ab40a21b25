#!/usr/bin/env python
"""Convert an Ultralytics YOLO11 checkpoint into an MMDetection checkpoint.

    python tools/convert_ultralytics_yolo.py yolo11n.pt yolo11n_mmdet.pth

The output loads into configs/yolo11/yolo11_<scale>_*.py (stock) or the joint
configs/clip_joint/yolo11_<scale>_clip-joint_*.py (the branch starts fresh) with
``load_from``; its ``meta.dataset_meta.classes`` are the checkpoint's class names. The
scale is detected from the weights (or checked against ``--scale``). A ``.pt`` saved by
Ultralytics is a pickled model: it is converted only with ``--trust-checkpoint`` (loading
it runs the code it names) and needs ``ultralytics`` installed; a plain state_dict needs
neither (give ``--classes`` unless it has COCO's 80).
"""
import argparse
import os.path as osp
import pickle
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmclipjoint.utils.ultralytics import convert_ultralytics_checkpoint  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='Ultralytics checkpoint (.pt) or state_dict')
    parser.add_argument('dst', help='MMDetection checkpoint to write (.pth)')
    parser.add_argument('--scale', choices=list('nsmlx'),
                        help='expected scale (default: detected from the weights)')
    parser.add_argument('--classes', nargs='+',
                        help='class names in label order, or one file with a name per line')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle SRC fully (an Ultralytics .pt is a pickled model): only '
                             'for a file from a source you trust')
    return parser.parse_args()


def main():
    args = parse_args()
    classes = args.classes
    if classes and len(classes) == 1 and osp.isfile(classes[0]):
        with open(classes[0]) as f:
            classes = [line.strip() for line in f if line.strip()]
    try:
        meta = convert_ultralytics_checkpoint(args.src, args.dst, args.scale, classes,
                                              trusted=args.trust_checkpoint)
    except (ValueError, RuntimeError, FileNotFoundError, pickle.UnpicklingError) as error:
        sys.exit(f'convert_ultralytics_yolo: {error}')
    print(f"{args.dst}: YOLO11{meta['yolo11_scale']}, "
          f"{len(meta['dataset_meta']['classes'])} classes")


if __name__ == '__main__':
    main()
