"""Data-parallel training on CPU processes."""
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
# mmengine's root registry: Runner.wrap_model looks wrappers up there, and the
# mmdet scope still finds it through its parent.
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for processes without a GPU (gloo backend).

    mmengine's Runner passes ``device_ids=[LOCAL_RANK]``, which PyTorch refuses for
    modules on the CPU; this wrapper drops it. PyTorch's ``SyncBatchNorm`` (the
    ``SyncBN`` of RTMDet's configs, among others) works only on GPUs and DDP refuses it
    on the CPU, so it becomes ``BatchNorm`` here: each process normalises with its own
    batch statistics, as one GPU per process without synchronisation would.
    ``tools/train.py --launcher pytorch`` selects this wrapper on machines without CUDA.
    """

    def __init__(self, module: nn.Module, device_ids=None, **kwargs):
        if any(isinstance(m, nn.SyncBatchNorm) for m in module.modules()):
            print_log('CPUDistributedDataParallel: SyncBatchNorm needs GPUs; using '
                      'per-process BatchNorm on the CPU', logger='current')
            module = revert_sync_batchnorm(module)
        super().__init__(module=module, device_ids=None, **kwargs)
