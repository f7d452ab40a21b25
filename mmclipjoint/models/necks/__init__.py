from .yolo11_pafpn import YOLO11PAFPN

__all__ = ['YOLO11PAFPN']
