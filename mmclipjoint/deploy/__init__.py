"""Deployment: ONNX export with NMS in the graph (:mod:`.onnx_export`, needs mmdeploy) and
an ONNX Runtime predictor that needs neither torch nor OpenMMLab (:mod:`.onnx_runtime`).
Nothing is imported here, so that importing the package does not pull mmdeploy in."""
