#!/usr/bin/env bash
# Build (or check) the project's virtual environment: the pinned OpenMMLab stack,
# mmcv 2.1.0 compiled from source with its ops, and mmclipjoint installed editable.
#
# Idempotent: when the environment already matches requirements.txt / setup.cfg
# it only verifies it (a few seconds). Usage: bash tools/setup_env.sh
# Environment: MMCLIPJOINT_VENV (default .venv), PYTHON (default python3),
#              MMCV_FORCE_CUDA=0|1 (default: 1 only when a GPU *and* nvcc are present).
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${MMCLIPJOINT_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.mmclipjoint-env"

say() { printf '[setup_env] %s\n' "$*"; }

# Everything that, when changed, means the environment must be looked at again.
want_stamp="$(cat requirements.txt setup.cfg pyproject.toml tools/setup_env.sh | sha256sum | cut -d' ' -f1)"

verify() {
    "$VENV/bin/python" - <<'EOF'
import mmcv, mmcv.ops, mmdet, mmengine, open_clip, torch, torchvision, mmclipjoint  # noqa: F401
from mmcv.ops import nms  # a compiled op: fails when mmcv was built without its ext
import mmdeploy, onnx, onnxruntime  # noqa: F401  (tools/export_onnx.py)
EOF
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] && verify 2>/dev/null; then
    say "environment in $VENV is up to date"
    exit 0
fi

t0=$SECONDS
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating virtual environment $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Some machines' pip configs name local index folders that do not exist; pip then warns
# once per package and buries the messages that matter.
pip_install() {
    "${PIP[@]}" install "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# mmcv's setup.py and mmengine import pkg_resources: setuptools must stay < 81,
# at build time and at run time (torch 2.12.1 itself asks for < 82).
say "installing build tools (setuptools<81, wheel, ninja)"
pip_install -q "setuptools<81" wheel ninja

say "installing torch / torchvision (first time: ~5 GB with the CUDA libraries, about a minute)"
pip_install -q "torch==2.12.1" "torchvision==0.27.1"

has_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then has_gpu=1; fi
force_cuda="${MMCV_FORCE_CUDA:-}"
if [[ -z "$force_cuda" ]]; then
    # nvcc alone is not enough (some CPU machines ship it): a CUDA build of mmcv
    # on 2 cores takes hours and is useless without a GPU.
    if [[ $has_gpu == 1 ]] && command -v nvcc >/dev/null 2>&1; then force_cuda=1; else force_cuda=0; fi
fi

mmcv_ok() {
    "$VENV/bin/python" -c "import mmcv, mmcv.ops; from mmcv.ops import nms, RoIAlign; assert mmcv.__version__ == '2.1.0'" 2>/dev/null
}
mmcv_cuda_ok() {
    "$VENV/bin/python" -c "import torch, mmcv.ops; from mmcv.ops import nms; b=torch.rand(4,4).cuda(); b[:,2:]+=b[:,:2]; nms(b, torch.rand(4).cuda(), 0.5)" 2>/dev/null
}
need_mmcv=1
if mmcv_ok; then
    need_mmcv=0
    if [[ $force_cuda == 1 ]] && ! mmcv_cuda_ok; then need_mmcv=1; fi
fi
if [[ $need_mmcv == 1 ]]; then
    # Only the mmcv dependencies that the build itself imports; the rest follow below.
    pip_install -q "mmengine==0.10.7" packaging
    extra=()
    if [[ $force_cuda == 1 ]]; then
        export FORCE_CUDA=1
        # A CPU-only wheel in pip's cache would otherwise be reused here.
        extra+=(--no-cache-dir --force-reinstall --no-deps)
        say "GPU and nvcc found: building mmcv 2.1.0 WITH its CUDA ops (FORCE_CUDA=1)"
    elif "$VENV/bin/python" -c "import mmcv" 2>/dev/null; then
        # Installed but without compiled ops: the cached wheel is the broken one.
        extra+=(--no-cache-dir --force-reinstall --no-deps)
    fi
    if [[ ${#extra[@]} -eq 0 ]] && "${PIP[@]}" cache list 'mmcv-2.1.0*' 2>/dev/null | grep -q mmcv; then
        say "installing mmcv 2.1.0 from the wheel pip built earlier on this machine"
    else
        say "building mmcv 2.1.0. The package registry has no mmcv wheel, so pip compiles it"
        say "from source (77 C++ files): about 15-20 minutes on 2 cores. pip keeps the built"
        say "wheel in its cache, so later environments on this machine take seconds."
    fi
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" pip_install --no-build-isolation \
        ${extra[@]+"${extra[@]}"} "mmcv==2.1.0"
    if ! mmcv_ok; then
        say "ERROR: mmcv 2.1.0 is installed without its compiled ops (import mmcv.ops fails)."
        say "Fix: $VENV/bin/pip uninstall -y mmcv && pip cache remove mmcv && bash tools/setup_env.sh"
        exit 1
    fi
fi

say "installing the rest of requirements.txt"
pip_install -q -r requirements.txt
say "installing mmdeploy 1.3.1 (--no-deps: its protobuf pin conflicts with onnx)"
pip_install -q --no-deps "mmdeploy==1.3.1"
say "installing mmclipjoint (editable)"
pip_install -q --no-build-isolation --no-deps -e .

if ! verify; then
    say "ERROR: the environment does not import; see the traceback above."
    exit 1
fi
"$VENV/bin/python" - <<'EOF'
import mmcv, mmdet, mmengine, open_clip, torch, torchvision
print(f'[setup_env] torch {torch.__version__} torchvision {torchvision.__version__} '
      f'mmcv {mmcv.__version__} (ops compiled) mmengine {mmengine.__version__} '
      f'mmdet {mmdet.__version__} open_clip {open_clip.__version__} '
      f'cuda available: {torch.cuda.is_available()}')
EOF
echo "$want_stamp" > "$STAMP"
say "done in $((SECONDS - t0)) s"
