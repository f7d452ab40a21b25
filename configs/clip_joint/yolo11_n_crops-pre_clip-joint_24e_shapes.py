# The method as published on the built-in data: class embeddings from the built-in CLIP
# (yolo11_n_clip-joint_24e_shapes) and YOLO11n's backbone pretrained on the pretraining
# split's object crops, loaded exactly as in its stock counterpart
# ../yolo11/yolo11_n_crops-pre_24e_shapes.py.
_base_ = './yolo11_n_clip-joint_24e_shapes.py'

model = dict(backbone=dict(
    init_cfg=dict(type='Pretrained',
                  checkpoint={{_base_.shapes_pretrained_yolo11n}}, prefix='backbone.')))

# Unpacked from pretrained/ (or built) by the tools on first use.
builtin_weights = [{{_base_.shapes_clip_weights}}, {{_base_.shapes_pretrained_yolo11n}}]
