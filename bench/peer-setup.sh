#!/usr/bin/env bash
# Creates .venv-peer: a separate virtualenv with the peer search engine txtai, for
# bench/peer_txtai.py. Kept apart from .venv so txtai's dependencies never touch ours.
#
#   bash bench/peer-setup.sh          # idempotent: does nothing if txtai already imports
#
# torch is installed first and pinned (torch==2.13.0 is a CPU wheel on local disk); an
# unpinned torch would make pip pull multi-GB CUDA wheels. Every later pip call names
# torch==2.13.0 again so the resolver can never move it.
# txtai's "vectors" extra is NOT installed (it pulls litellm, llama-cpp-python, onnxruntime,
# ...); dense search with faiss + sentence-transformers needs only txtai's core deps
# (faiss-cpu, transformers, torch, ...) plus sentence-transformers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-peer"
PY="$VENV/bin/python"
LOCK="$ROOT/requirements.lock"
TORCH="torch==2.13.0"
TXTAI="txtai==9.14.0"
# Beyond txtai's core deps: sentence-transformers (method "sentence-transformers").
EXTRA=(sentence-transformers faiss-cpu)

if [ -x "$PY" ] && "$PY" -c "import txtai, sentence_transformers, faiss" 2>/dev/null; then
    echo "peer-setup: $VENV already has txtai ($("$PY" -c 'import importlib.metadata as m; print(m.version("txtai"))')); nothing to do"
    exit 0
fi

[ -x "$PY" ] || python3.11 -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip

# 1. torch first, pinned.
"$PY" -m pip install --quiet "$TORCH"

# 2. txtai + what dense faiss/sentence-transformers search needs, with our lock as constraints
#    (same sentence-transformers, transformers, faiss-cpu, numpy as vraagbaak). If a lock pin
#    conflicted with txtai we would fall back to pinning torch only; with txtai 9.14.0 and the
#    current lock the constrained install resolves.
if [ -f "$LOCK" ] && "$PY" -m pip install --quiet -c "$LOCK" "$TORCH" "$TXTAI" "${EXTRA[@]}"; then
    echo "peer-setup: installed with constraints from requirements.lock"
else
    echo "peer-setup: requirements.lock conflicts with $TXTAI; installing with torch pinned only" >&2
    "$PY" -m pip install --quiet "$TORCH" "$TXTAI" "${EXTRA[@]}"
fi

"$PY" -c "import txtai, sentence_transformers, faiss, torch; print('peer-setup: ok, torch', torch.__version__)"
