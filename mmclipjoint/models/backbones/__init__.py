from .yolo11_backbone import YOLO11Backbone

__all__ = ['YOLO11Backbone']
