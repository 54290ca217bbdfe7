"""vraagbaak's benchmarks. Each part is a module run from the repository root:

    python -m bench.scale --sizes 10000 100000     # one part; writes bench/out/scale.json
    python -m bench.suite --mode quick              # every part, then docs/benchmarks.md
    python -m bench.report                          # docs/benchmarks.md from bench/out/*.json

Shared code (corpora, the timer, results, machine facts) lives in bench.lib.
"""
