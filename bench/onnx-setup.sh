#!/usr/bin/env bash
# Creates .venv-onnx: a separate virtualenv with sentence-transformers' OpenVINO backend and
# ONNX Runtime, for bench/onnx_backends.py. Kept apart from .venv so none of it touches ours.
#
#   bash bench/onnx-setup.sh          # idempotent: does nothing if the pinned stack already imports
#
# torch is installed first and pinned (torch==2.13.0 is a CPU wheel on local disk); an unpinned
# torch would make pip pull multi-GB CUDA wheels. Every later pip call names torch==2.13.0 again.
#
# What could not be installed as asked, and why (pip's resolver, checked 2026-11):
# - sentence-transformers[onnx]==6.2.0 is unresolvable: the extra needs optimum-onnx, whose
#   newest release (0.1.0) requires transformers<4.58, while sentence-transformers 6.x requires
#   transformers>=5 (upstream: huggingface/optimum-onnx#114, still open). With --no-deps it
#   installs but fails on import (ImportError: cannot import name 'is_offline_mode' from
#   'transformers.utils'). So the ONNX variants export with torch.onnx (dynamo exporter, needs
#   onnxscript) and run on onnxruntime directly; its optimizer and quantizer stand in for
#   optimum's O2/O3 and avx2 dynamic int8 (see bench/onnx_backends.py).
# - sentence-transformers[openvino]==6.2.0 resolves only with optimum-intel 2.2.0, which requires
#   transformers<5.6 and huggingface-hub<1.22, and transformers 5.5 requires tokenizers<=0.23.0.
#   So transformers, huggingface_hub and tokenizers are dropped from requirements.lock's
#   constraints (they are pinned below instead); every other lock pin is kept.
# - optimum-intel requires torchvision, but the only torchvision wheels reachable are CUDA builds
#   (libtorch_cuda.so missing under the CPU torch), and a broken torchvision makes `import
#   transformers` features fail ("operator torchvision::nms does not exist"). optimum-intel uses
#   torchvision only for vision-language models, so it is uninstalled after the install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-onnx"
PY="$VENV/bin/python"
LOCK="$ROOT/requirements.lock"
TORCH="torch==2.13.0"
PINS=(
    "sentence-transformers[openvino]==6.2.0"
    "optimum-intel==2.2.0" "optimum==2.3.0" "openvino==2026.4.1" "nncf==3.4.0"
    "onnxruntime==1.32.0" "onnx==1.23.2" "onnxscript==0.7.2"
    "transformers==5.5.4" "huggingface_hub==1.16.1" "tokenizers==0.22.2"
)
CHECK='import importlib.metadata as m, sys
import sentence_transformers, onnxruntime, onnx, onnxscript, openvino, nncf, optimum.intel.openvino
want = {p.split("==")[0].split("[")[0]: p.split("==")[1] for p in sys.argv[1:]}
bad = {k: m.version(k) for k, v in want.items() if m.version(k).split("+")[0] != v}
sys.exit(f"version mismatch: {bad}" if bad else 0)'

if [ -x "$PY" ] && "$PY" -c "$CHECK" "$TORCH" "${PINS[@]}" 2>/dev/null; then
    echo "onnx-setup: $VENV already has the pinned stack; nothing to do"
    exit 0
fi

[ -x "$PY" ] || python3.11 -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip

# 1. torch first, pinned.
"$PY" -m pip install --quiet "$TORCH"

# 2. The rest, with requirements.lock as constraints minus the three pins that conflict.
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
grep -v -i -E '^(transformers|huggingface[-_]hub|tokenizers)==' "$LOCK" > "$CONSTRAINTS"
"$PY" -m pip install --quiet -c "$CONSTRAINTS" "$TORCH" "${PINS[@]}"

# 3. Drop the CUDA-only torchvision (see above).
"$PY" -m pip uninstall --quiet --yes torchvision || true

"$PY" -c "$CHECK" "$TORCH" "${PINS[@]}"
"$PY" -c "import torch, sentence_transformers, onnxruntime, openvino
print('onnx-setup: ok, torch', torch.__version__, '| sentence-transformers', sentence_transformers.__version__,
      '| onnxruntime', onnxruntime.__version__, '| openvino', openvino.__version__)"
