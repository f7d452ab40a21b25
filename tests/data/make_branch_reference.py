"""Writes branch_reference.pt: the joint heads' losses and fused scores as computed by
mmclipjoint 0.1.0 (commit 80eac90), before the branch contract of 0.2.0.

tests/models/test_branch_reference.py loads each head's 0.1.0 state_dict into the 0.2.0
head (through its legacy checkpoint keys) and asserts the same numbers on the same
inputs. Regenerate (only ever from 0.1.0's code, with 0.1.0's head arguments):

    git worktree add /tmp/mmclipjoint-0.1.0 80eac90
    PYTHONPATH=/tmp/mmclipjoint-0.1.0 .venv/bin/python tests/data/make_branch_reference.py
"""
import os.path as osp

import torch
from mmengine.structures import InstanceData

import mmclipjoint
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

BANK = dict(type='TextEmbeddingBank', class_names=['a', 'b', 'c'], init='random', embed_dims=24)
# 0.1.0's flat head arguments; 0.2.0 takes them in contrastive_branch.
HEADS = dict(
    bbox=dict(type='ContrastiveBBoxHead', in_channels=8, fc_out_channels=32, roi_feat_size=3,
              num_classes=3, proj_hidden_dims=20, text_bank=BANK,
              bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                              target_stds=[0.1, 0.1, 0.2, 0.2]),
              loss_contrastive=dict(type='InfoNCELoss', aux_loss_weight=0.5)),
    yolox=dict(type='ContrastiveYOLOHead', num_classes=3, in_channels=16, feat_channels=16,
               strides=(8, 16, 32), text_bank=BANK, negative_ratio=2.0, min_negatives=16,
               train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
               test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65))),
    rtmdet=dict(type='ContrastiveRTMDetHead', num_classes=3, in_channels=16, feat_channels=16,
                stacked_convs=1, text_bank=BANK, negative_ratio=2.0, min_negatives=16,
                anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
                bbox_coder=dict(type='DistancePointBBoxCoder'),
                loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                              loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
                               allowed_border=-1, pos_weight=-1, debug=False),
                test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                              nms=dict(type='nms', iou_threshold=0.6), max_per_img=10)),
)
HEIGHT, WIDTH = 64, 96  # non-square: rows and columns flattened in the right order
METAS = [dict(img_shape=(HEIGHT, WIDTH), pad_shape=(HEIGHT, WIDTH),
              batch_input_shape=(HEIGHT, WIDTH))] * 2


def dense_inputs():
    generator = torch.Generator().manual_seed(1)
    feats = [torch.randn(2, 16, HEIGHT // s, WIDTH // s, generator=generator)
             for s in (8, 16, 32)]
    gts = [dict(bboxes=[[4, 4, 40, 30], [50, 20, 92, 60]], labels=[2, 0]),
           dict(bboxes=[[10, 30, 40, 60]], labels=[1])]
    return dict(feats=feats, gts=gts)


def bbox_inputs():
    generator = torch.Generator().manual_seed(2)
    num = 12
    return dict(rois_feats=torch.randn(num, 8, 3, 3, generator=generator),
                rois=torch.cat([torch.zeros(num, 1), torch.rand(num, 4, generator=generator)
                                * 50], 1),
                labels=torch.tensor([0, 1, 2, 3, 3, 1, 0, 3, 2, 3, 3, 3]),
                label_weights=torch.tensor([1.] * 10 + [0., 1.]),
                bbox_targets=torch.randn(num, 4, generator=generator),
                bbox_weights=torch.ones(num, 4))


def instances(gt):
    return InstanceData(bboxes=torch.tensor(gt['bboxes'], dtype=torch.float),
                        labels=torch.tensor(gt['labels']))


def head_losses(name, head, inputs):
    torch.manual_seed(3)  # the grid branch samples background cells at random
    if name == 'bbox':
        cls_score, bbox_pred = head(inputs['rois_feats'])
        losses = head.loss(cls_score, bbox_pred, inputs['rois'], inputs['labels'],
                           inputs['label_weights'], inputs['bbox_targets'],
                           inputs['bbox_weights'])
    else:
        losses = head.loss_by_feat(*head(inputs['feats']),
                                   [instances(g) for g in inputs['gts']], METAS)
    return {k: (torch.stack(v).sum() if isinstance(v, list) else v).detach().float()
            for k, v in losses.items()}


def main():
    register_all_modules(init_default_scope=True)
    reference = dict(version=mmclipjoint.__version__)
    for name, cfg in HEADS.items():
        torch.manual_seed(0)
        head = MODELS.build(cfg)
        head.init_weights()
        inputs = bbox_inputs() if name == 'bbox' else dense_inputs()
        losses = head_losses(name, head, inputs)
        head.eval()
        head.inference = 'fused'
        (head.contrastive if name != 'bbox' else head).inference = 'fused'
        with torch.no_grad():
            fused = head(inputs['rois_feats'] if name == 'bbox' else inputs['feats'])[0]
        reference[name] = dict(state_dict=head.state_dict(), inputs=inputs, losses=losses,
                               fused_scores=fused)
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'branch_reference.pt')
    torch.save(reference, path)
    print(f'wrote {path}: ' + ', '.join(f'{n}: {sorted(reference[n]["losses"])}' for n in HEADS))


if __name__ == '__main__':
    main()
