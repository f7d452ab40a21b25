# The method as published on the built-in data: class embeddings from the built-in CLIP
# (rtmdet_tiny_clip-joint_12e_shapes) and RTMDet-tiny's CSPNeXt pretrained on the
# pretraining split's object crops, loaded exactly as in its stock counterpart
# ../rtmdet/rtmdet_tiny_crops-pre_12e_shapes.py.
_base_ = './rtmdet_tiny_clip-joint_12e_shapes.py'

model = dict(backbone=dict(
    init_cfg=dict(_delete_=True, type='Pretrained',
                  checkpoint={{_base_.shapes_pretrained_cspnext_tiny}}, prefix='backbone.')))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_clip_weights}}, {{_base_.shapes_pretrained_cspnext_tiny}}]
