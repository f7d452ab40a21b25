from .infonce_loss import InfoNCELoss
from .yolo_ciou_loss import YOLOCIoULoss, complete_iou

__all__ = ['InfoNCELoss', 'YOLOCIoULoss', 'complete_iou']
