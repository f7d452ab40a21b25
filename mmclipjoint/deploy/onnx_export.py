"""ONNX export of MMDetection detectors (joint or stock) with NMS in the graph.

The graph takes ``images``: float32 ``(B, 3, H, W)``, pixel values 0-255 in the channel
order the images are read in (BGR, as MMDetection's ``LoadImageFromFile``), resized and
padded as the config's test pipeline does (the ONNX file's metadata says how); the
model's normalisation (mean, std, channel swap) is inside the graph. Outputs:
``num_dets`` (B,) int64, ``boxes`` (B, K, 4) xyxy in input pixels, ``scores`` (B, K),
``labels`` (B, K) int64; rows at or after ``num_dets[b]`` are padding (score 0, label -1).
With ``raw=True`` (one-stage detectors) the outputs are the decoded boxes ``(B, A, 4)``
and class scores ``(B, A, C)`` of every prior before score threshold and NMS; for YOLO11
one output ``(B, 4 + C, A)`` (centre x, centre y, width, height, then the class scores),
the layout of Ultralytics' exports.

mmdeploy 1.3.1 does the tracing: its rewriters turn mmdet's post-processing into
standard ONNX ops (``NonMaxSuppression``, ``TopK``, ``RoiAlign``), for every head this
package extends. Two incompatibilities with torch 2.12 are handled here
(:func:`torch_for_mmdeploy`) and two of its post-processing differences from mmdet are
corrected by :mod:`.rewriters`. Joint models export as they predict: with
``inference='fused'`` the contrastive branch, the text embeddings and temperatures are
in the graph (as constants); with ``'stock'`` the branch is not traced at all.
"""
import contextlib
import functools
import json
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from torch import nn

from ..utils.config import joint_heads
from .onnx_runtime import METADATA_KEY

OPSET = 16  # RoiAlign with coordinate_transformation_mode (mmcv's aligned=True)
# The test pipeline's transforms the exported model's users must reproduce, and those
# that only load or pack (nothing to do on an image already read).
REPRODUCED = ('Resize', 'Pad')
PASSIVE = ('LoadImageFromFile', 'LoadAnnotations', 'PackDetInputs')


@contextlib.contextmanager
def torch_for_mmdeploy():
    """mmdeploy 1.3.1 on torch 2.12: its ``torch.onnx.export`` call needs the TorchScript
    exporter (``dynamo=False``), which torch 2.12 no longer chooses by default; its RoIAlign
    symbolic imports ``symbolic_opset9._cast_Long``, which torch removed (a ``Cast`` to
    INT64). Both are restored on exit."""
    import torch.onnx.symbolic_opset9 as opset9
    added = not hasattr(opset9, '_cast_Long')
    if added:
        opset9._cast_Long = lambda g, x, non_blocking=False: g.op('Cast', x, to_i=7)
    export = torch.onnx.export
    torch.onnx.export = functools.partial(export, dynamo=False)
    try:
        yield
    finally:
        torch.onnx.export = export
        if added:
            del opset9._cast_Long


def _model_family(model: nn.Module) -> str:
    from ..models.dense_heads.yolo11_head import YOLO11Head
    if hasattr(model, 'roi_head'):
        return 'two-stage'
    return 'yolo11' if isinstance(model.bbox_head, YOLO11Head) else 'one-stage'


def clips_boxes(model: nn.Module) -> bool:
    """Whether mmdet clips this detector's boxes to the image (YOLOX's head does not)."""
    from mmdet.models.dense_heads import YOLOXHead
    return not isinstance(getattr(model, 'bbox_head', None), YOLOXHead)


def test_preprocessing(cfg: Config, config_name: str) -> List[dict]:
    """The test pipeline's resize and pad steps (what an ONNX user must do to an image);
    a transform this export cannot describe is an error naming it."""
    steps = []
    for transform in cfg.test_dataloader.dataset.pipeline:
        kind = transform['type']
        if kind in PASSIVE:
            continue
        if kind not in REPRODUCED:
            raise ValueError(
                f'{config_name}: test_dataloader.dataset.pipeline has {kind}, which the '
                f'exported model\'s metadata cannot describe (supported: '
                f'{", ".join(REPRODUCED)}); fix: export with a test pipeline of '
                f'LoadImageFromFile, Resize, Pad and PackDetInputs')
        step = {k: (list(v) if isinstance(v, tuple) else v) for k, v in transform.items()}
        if kind == 'Resize' and 'scale' not in step:
            raise ValueError(f'{config_name}: the test Resize has no `scale`; fix: give it one')
        steps.append(step)
    return steps


class DeployableDetector(nn.Module):
    """What the ONNX graph computes: normalisation, the detector, and its post-processing
    (mmdeploy's rewriters) or, with ``raw``, its decoded predictions before NMS."""

    def __init__(self, detector: nn.Module, raw: bool = False):
        super().__init__()
        self.detector = detector
        self.raw = raw
        self.family = _model_family(detector)
        if raw and self.family == 'two-stage':
            raise ValueError('--raw is for one-stage detectors: a two-stage detector\'s '
                             'second stage reads the proposals its RPN keeps after NMS; '
                             'export it without --raw')
        pre = detector.data_preprocessor
        self.bgr_to_rgb = bool(getattr(pre, '_channel_conversion', False))
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)
        self.register_buffer('mean', torch.zeros(1, 3, 1, 1) if mean is None
                             else mean.detach().clone().view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.ones(1, 3, 1, 1) if std is None
                             else std.detach().clone().view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor):
        x = images[:, [2, 1, 0]] if self.bgr_to_rgb else images
        x = (x - self.mean) / self.std
        if self.raw:
            return self._raw(x)
        from mmdet.structures import DetDataSample
        dets, labels = self.detector(x, [DetDataSample()], mode='predict')[:2]
        scores = dets[..., 4]
        valid = (labels >= 0) & (scores > 0)
        num_dets = valid.sum(1)
        labels = torch.where(valid, labels.long(), torch.full_like(labels.long(), -1))
        return num_dets, dets[..., :4], scores * valid.to(scores.dtype), labels

    def _raw(self, x: torch.Tensor):
        head = self.detector.bbox_head
        outs = head(self.detector.extract_feat(x))
        if self.family == 'yolo11':  # the head's own decoding: Ultralytics' eval output
            return head.decode(*outs)
        # mmdeploy's YOLOX and RTMDet decoding: every prior, in grid order.
        metas = [dict(img_shape=torch._shape_as_tensor(x)[2:])]
        return head.predict_by_feat(*outs, batch_img_metas=metas, with_nms=False)

    @property
    def output_names(self) -> List[str]:
        if not self.raw:
            return ['num_dets', 'boxes', 'scores', 'labels']
        return ['output0'] if self.family == 'yolo11' else ['boxes', 'scores']


def deploy_config(output_names: List[str], keep_top_k: int) -> Config:
    """mmdeploy's deploy config for ONNX Runtime with dynamic batch and image size. The
    NMS settings of every stage come from the model's own ``test_cfg``; the values here
    only fill what a ``test_cfg`` leaves out: no score threshold, no pre-NMS top-k
    (mmdet has none beyond ``nms_pre``), at most ``keep_top_k`` boxes per image."""
    dynamic = {'images': {0: 'batch', 2: 'height', 3: 'width'}}
    if output_names == ['output0']:  # YOLO11 raw: (B, 4 + C, A)
        dynamic['output0'] = {0: 'batch', 2: 'anchors'}
    else:  # (B, K, ...) detections with NMS, or (B, A, ...) raw priors
        second = 'detections' if 'num_dets' in output_names else 'anchors'
        for name in output_names:
            dynamic[name] = {0: 'batch'} if name == 'num_dets' else {0: 'batch', 1: second}
    return Config(dict(
        onnx_config=dict(type='onnx', export_params=True, keep_initializers_as_inputs=False,
                         opset_version=OPSET, save_file='end2end.onnx',
                         input_names=['images'], output_names=output_names, input_shape=None,
                         optimize=True, dynamic_axes=dynamic),
        codebase_config=dict(type='mmdet', task='ObjectDetection', model_type='end2end',
                             post_processing=dict(
                                 score_threshold=0.0, confidence_threshold=0.0,
                                 iou_threshold=0.5, max_output_boxes_per_class=keep_top_k,
                                 pre_top_k=-1, keep_top_k=keep_top_k, background_label_id=-1)),
        backend_config=dict(type='onnxruntime')))


def _inference_modes(cfg: Config) -> List[str]:
    return sorted({head.contrastive_branch.get('inference', 'stock')
                   for _, head in joint_heads(cfg.model)})


def load_detector(cfg: Config, checkpoint: str, trust_checkpoint: bool = False,
                  config_name: Optional[str] = None):
    """``cfg``'s detector with ``checkpoint``'s weights (loaded without running code from
    the file unless trusted), in eval mode, and its class names."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from ..utils.checkpoint import load_checkpoint_file
    from ..utils.inference import config_class_names
    config_name = config_name or cfg.filename or 'the config'
    register_all_modules(init_default_scope=True)
    content = load_checkpoint_file(checkpoint, map_location='cpu', trusted=trust_checkpoint)
    state = content.get('state_dict', content) if isinstance(content, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f'{checkpoint}: no state_dict; fix: pass a checkpoint written by '
                         f'tools/train.py')
    model = MODELS.build(cfg.model)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f'{checkpoint} does not fit {config_name}: missing {result.missing_keys[:5]}, '
            f'unexpected {result.unexpected_keys[:5]}; fix: the config the checkpoint was '
            f'trained with (a stock checkpoint of a joint model: tools/export_stock_model.py '
            f'writes its config)')
    model.eval()
    meta = (content.get('meta') or {}).get('dataset_meta') or {}
    classes = list(meta.get('classes') or config_class_names(cfg) or [])
    if not classes:
        raise ValueError(f'{checkpoint} has no meta.dataset_meta and {config_name} names no '
                         f'classes; fix: a checkpoint written by tools/train.py')
    return model, classes


def _mmdeploy():
    """mmdeploy's MMDetection rewriters and this package's (imported on first use)."""
    from mmdeploy.codebase import import_codebase
    from mmdeploy.utils import Codebase
    import_codebase(Codebase.MMDET)
    from . import rewriters  # noqa: F401  (registers this package's rewriters)


def pytorch_outputs(cfg: Config, checkpoint: str, images: torch.Tensor, raw: bool = False,
                    keep_top_k: int = 300) -> tuple:
    """What the exported graph computes, run in PyTorch (mmdeploy's rewriters active): the
    reference the ONNX Runtime outputs are compared with."""
    from mmdeploy.core import RewriterContext, patch_model
    _mmdeploy()
    model, _ = load_detector(cfg, checkpoint)
    wrapper = DeployableDetector(model, raw=raw).eval()
    deploy_cfg = deploy_config(wrapper.output_names, keep_top_k)
    patched = patch_model(wrapper, cfg=deploy_cfg, backend='onnxruntime', ir='onnx')
    with RewriterContext(cfg=deploy_cfg, backend='onnxruntime', ir='onnx', opset=OPSET), \
            torch.no_grad():
        outputs = patched(images)
    return outputs if isinstance(outputs, (tuple, list)) else (outputs, )


def export_onnx(cfg: Config, checkpoint: str, out: str, raw: bool = False,
                keep_top_k: int = 300, sample_size: Optional[int] = None,
                trust_checkpoint: bool = False, config_name: Optional[str] = None) -> Dict:
    """Export ``cfg``'s detector with ``checkpoint``'s weights to ``out`` (``*.onnx``) and
    return the metadata written into it (also under the key ``mmclipjoint`` of the
    file's ``metadata_props``): class names, input convention, preprocessing, outputs."""
    import onnx
    from mmdeploy.apis.onnx import export
    _mmdeploy()
    config_name = config_name or cfg.filename or 'the config'
    if not out.endswith('.onnx'):
        raise ValueError(f'{out}: the file name must end with .onnx')
    steps = test_preprocessing(cfg, config_name)
    model, classes = load_detector(cfg, checkpoint, trust_checkpoint, config_name)
    wrapper = DeployableDetector(model, raw=raw).eval()
    names = wrapper.output_names
    deploy_cfg = deploy_config(names, keep_top_k)
    resize = next((s for s in steps if s['type'] == 'Resize'), None)
    side = sample_size or (max(resize['scale']) if resize else 320)
    side = -(-side // 32) * 32
    sample = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0)) * 255
    with torch_for_mmdeploy(), torch.no_grad():
        export(wrapper, sample, out[:-len('.onnx')], input_names=['images'],
               output_names=names, context_info=dict(deploy_cfg=deploy_cfg),
               backend='onnxruntime', opset_version=OPSET,
               dynamic_axes=deploy_cfg.onnx_config.dynamic_axes, verbose=False)
    pre = model.data_preprocessor
    metadata = dict(
        classes=classes, config=osp.basename(config_name), family=wrapper.family,
        inference=_inference_modes(cfg) or ['stock'], raw=raw, outputs=names,
        input=dict(name='images', dtype='float32', layout='NCHW', channel_order='BGR',
                   value_range='0-255', normalisation='in the graph'),
        preprocess=dict(steps=steps, pad_size_divisor=int(getattr(pre, 'pad_size_divisor', 1)),
                        pad_value=float(getattr(pre, 'pad_value', 0))),
        boxes='xyxy, pixels of the network input (divide by the resize scale factor)',
        clip_to_image=clips_boxes(model),
        keep_top_k=keep_top_k)
    graph = onnx.load(out)
    del graph.metadata_props[:]
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    onnx.save(graph, out)
    return metadata
