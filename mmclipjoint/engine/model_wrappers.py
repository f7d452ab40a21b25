"""Data-parallel training on CPU processes."""
from mmengine.model import MMDistributedDataParallel
# mmengine's root registry: Runner.wrap_model looks wrappers up there, and the
# mmdet scope still finds it through its parent.
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for processes without a GPU (gloo backend).

    mmengine's Runner passes ``device_ids=[LOCAL_RANK]``, which PyTorch refuses for
    modules on the CPU; this wrapper drops it. ``tools/train.py --launcher pytorch``
    selects it on machines without CUDA.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)
