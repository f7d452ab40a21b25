# The method as published on the built-in data: class embeddings from the built-in CLIP
# (yolox_tiny_clip-joint_12e_shapes) and YOLOX-tiny's CSPDarknet pretrained on the
# pretraining split's object crops, loaded exactly as in its stock counterpart
# ../yolox/yolox_tiny_crops-pre_12e_shapes.py.
_base_ = './yolox_tiny_clip-joint_12e_shapes.py'

model = dict(backbone=dict(
    init_cfg=dict(type='Pretrained',
                  checkpoint={{_base_.shapes_pretrained_cspdarknet_tiny}}, prefix='backbone.')))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_clip_weights}}, {{_base_.shapes_pretrained_cspdarknet_tiny}}]
