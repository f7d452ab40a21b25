# The stock ./rtmdet_tiny_12e_shapes.py with RTMDet-tiny's CSPNeXt pretrained on the
# pretraining split's object crops (docs/pretrained.md), loaded as an ImageNet checkpoint
# is.
_base_ = './rtmdet_tiny_12e_shapes.py'

model = dict(backbone=dict(
    init_cfg=dict(_delete_=True, type='Pretrained',
                  checkpoint={{_base_.shapes_pretrained_cspnext_tiny}}, prefix='backbone.')))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_pretrained_cspnext_tiny}}]
