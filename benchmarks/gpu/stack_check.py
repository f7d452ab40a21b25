#!/usr/bin/env python
"""The stack a GPU run needs, checked in one process: torch with CUDA, mmcv's compiled
ops (NMS on the GPU), mmdet, mmengine, open_clip; prints one JSON line (the last)."""
import argparse
import json


def parse_args(argv=None):
    return argparse.ArgumentParser(description=__doc__).parse_args(argv)


def main(argv=None):
    parse_args(argv)
    import mmcv
    import mmengine
    import open_clip
    import torch
    from mmcv.ops import nms

    import mmdet
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]],
                         dtype=torch.float, device=device)
    keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7], device=device), 0.5)[1]
    result = dict(torch=torch.__version__, cuda=torch.version.cuda, device=device,
                  gpus=torch.cuda.device_count(), mmcv=mmcv.__version__,
                  mmdet=mmdet.__version__, mmengine=mmengine.__version__,
                  open_clip=open_clip.__version__, nms_keeps=keep.tolist())
    if keep.tolist() != [0, 2]:
        raise SystemExit(f'mmcv NMS on {device} kept {keep.tolist()}, expected [0, 2]')
    print(json.dumps(result))


if __name__ == '__main__':
    main()
