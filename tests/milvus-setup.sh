#!/usr/bin/env bash
# Creates .venv-milvus: PyPI's `milvus` 2.3.5, a real Milvus standalone server (the Milvus
# binary with embedded etcd, local storage and RocksMQ, behind a small Python wrapper,
# `milvus-server`), for the tests that need a server (tests/milvus_server.py starts and stops it).
# A venv of its own, so that nothing of its install meets vraagbaak's pins. The tests run it in a
# network namespace of its own and reach it through socat (Debian's `socat`, which .ci/run
# installs): Milvus 2.3 listens on all interfaces whatever its configuration says.
#
#   bash tests/milvus-setup.sh     # idempotent: does nothing if the server is already there
#
# Why this one: a real server process speaking the same gRPC/REST API as a Milvus cluster, and
# the only one obtainable from PyPI; milvus-lite (the embedded engine) runs in the client.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-milvus"
PY="$VENV/bin/python"
MILVUS="milvus==2.3.5"

if [ -x "$VENV/bin/milvus-server" ] && "$PY" -c "import milvus; assert milvus.__version__ == '2.3.5'" 2>/dev/null; then
    echo "milvus-setup: $VENV already has $MILVUS; nothing to do"
    exit 0
fi
[ -x "$PY" ] || python3.11 -m venv "$VENV" || python3 -m venv "$VENV"
"$PY" -m pip install --quiet --disable-pip-version-check "$MILVUS"
"$VENV/bin/milvus-server" --help >/dev/null
echo "milvus-setup: ok, $MILVUS in $VENV"
