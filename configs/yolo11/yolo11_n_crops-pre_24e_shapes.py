# The stock ./yolo11_n_24e_shapes.py with YOLO11n's backbone pretrained on the pretraining
# split's object crops (docs/pretrained.md), loaded as an ImageNet checkpoint is.
_base_ = './yolo11_n_24e_shapes.py'

model = dict(backbone=dict(
    init_cfg=dict(type='Pretrained',
                  checkpoint={{_base_.shapes_pretrained_yolo11n}}, prefix='backbone.')))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_pretrained_yolo11n}}]
