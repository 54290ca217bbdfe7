#!/usr/bin/env bash
# A new user's install: the built wheel in a fresh venv, used from outside the checkout.
# model build, index, search, and serve (API, page, static files), then the server is stopped.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HOME="$work/home"
mkdir -p "$HOME"
python3 -m venv "$work/venv"
pip="$work/venv/bin/python -m pip"
$pip install --quiet --upgrade pip
$pip install --quiet torch==2.13.0
$pip wheel --quiet --no-deps -w "$work/dist" "$repo"
$pip install --quiet -c "$repo/requirements.lock" "$work"/dist/vraagbaak-*.whl
cp -r "$repo/data/sample" "$work/articles"
cd "$work"  # nothing of the checkout on the path from here on
bin="$work/venv/bin"
"$bin/vraagbaak" model build
test -d "$HOME/.cache/vraagbaak/models/multilingual-e5-small"  # not inside site-packages
"$bin/vraagbaak" index articles --index idx
"$bin/vraagbaak" search "Wat zei Poetin over Navalny?" --index idx -k 1 --json > answer.json
grep -q Navalny answer.json
port=$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/vraagbaak" serve --index idx --port "$port" > serve.log 2>&1 &
server=$!
for _ in $(seq 60); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 1
done
curl -sf "http://127.0.0.1:$port/search?q=what+did+Biden+say+about+cyber&k=1" | grep -q cyber
curl -sf "http://127.0.0.1:$port/" | grep -q "<html"
curl -sf "http://127.0.0.1:$port/static/app.js" >/dev/null
echo "wheel check: installed, built the model, indexed, searched and served from $work"
