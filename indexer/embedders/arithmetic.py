"""Whether this CPU multiplies bf16 faster than fp32, measured rather than read from its flags.

The flag says the instructions exist, not that they are fast: CPUs with the same flag were
measured far faster and slower in bf16 than in fp32 (docs/decisions/0061). Both products are
timed back to back, alternating, so a busy machine slows both alike and the ratio stands.
"""

from __future__ import annotations

import time

# Why: docs/decisions/0061-bf16-products-where-measured-faster.md
GAIN = 1.3  # bf16 is picked when its product is at least this much faster
ROWS, WIDTH, HIDDEN = 2048, 384, 1536  # 16 passages of 128 tokens through an FFN layer
ROUNDS = 5


def bf16_speedup(rounds: int = ROUNDS) -> float:
    """fp32's best time over bf16's for one FFN-sized product, on torch's threads."""
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(ROWS, WIDTH, generator=generator)
    w = torch.randn(HIDDEN, WIDTH, generator=generator)
    operands = {"fp32": (x, w), "bf16": (x.bfloat16(), w.bfloat16())}
    best = {name: float("inf") for name in operands}
    with torch.inference_mode():
        for name, (a, b) in operands.items():
            torch.nn.functional.linear(a, b)  # the first call builds the kernel
        for _ in range(rounds):
            for name, (a, b) in operands.items():
                start = time.perf_counter()
                torch.nn.functional.linear(a, b)
                best[name] = min(best[name], time.perf_counter() - start)
    return best["fp32"] / max(best["bf16"], 1e-9)


def bf16_is_faster() -> bool:
    return bf16_speedup() >= GAIN
