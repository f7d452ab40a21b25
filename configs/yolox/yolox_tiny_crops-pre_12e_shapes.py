# The stock ./yolox_tiny_12e_shapes.py with YOLOX-tiny's CSPDarknet pretrained on the
# pretraining split's object crops (docs/pretrained.md), loaded as an ImageNet checkpoint
# is.
_base_ = './yolox_tiny_12e_shapes.py'

model = dict(backbone=dict(
    init_cfg=dict(type='Pretrained',
                  checkpoint={{_base_.shapes_pretrained_cspdarknet_tiny}}, prefix='backbone.')))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_pretrained_cspdarknet_tiny}}]
