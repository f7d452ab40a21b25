# CLIP-Joint-Detect on Faster R-CNN R50-FPN, Pascal VOC 07+12 (the paper's two-stage
# setting). Differs from ../pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py in the bbox
# head only: the stock Shared2FCBBoxHead plus the contrastive branch, scored against
# the 20 VOC class names encoded by CLIP ViT-B/32 ("a photo of a {}.") and learned.
#
# Offline: build the embeddings once from a local CLIP checkpoint and point at them:
#   python tools/build_text_embeddings.py --classes voc --pretrained /path/clip.bin \
#       --out data/text_embeddings/voc_vit-b-32.pth
#   --cfg-options model.roi_head.bbox_head.contrastive_branch.text_bank.init=file \
#       model.roi_head.bbox_head.contrastive_branch.text_bank.embedding_file=data/text_embeddings/voc_vit-b-32.pth
_base_ = ['../pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py', '../_base_/clip_joint_runtime.py']

model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='ContrastiveBBoxHead',
            contrastive_branch=dict(
                type='RegionContrastiveBranch',
                hidden_channels=1024,
                text_bank=dict(
                    type='TextEmbeddingBank',
                    class_names='voc',
                    embed_dims=512,
                    init='clip',
                    clip=dict(model='ViT-B-32', pretrained='openai',
                              templates=['a photo of a {}.']),
                    learnable=True,
                    temperature=dict(mode='per_class', init=0.07, max_logit_scale=100.0),
                    background=True),
                loss_contrastive=dict(
                    type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5,
                    aux_samples='all'),
                inference='stock',
                fusion_weight=0.5))))

optim_wrapper = _base_.clip_joint_optim_wrapper
custom_hooks = _base_.clip_joint_hooks
