"""RMSNorm followed by the fused QKV projection of a Qwen3-0.6B layer, run on the reference backend.

Qwen3-0.6B: hidden size 1024, 16 query heads and 8 key/value heads of dimension 128, so the
fused Q, K and V weights have 16*128 + 2*8*128 = 4096 columns. Run it with

    python examples/python/rmsnorm_matmul.py
"""

import ml_dtypes
import numpy as np

import yirage as yr

TOKENS, HIDDEN, QKV = 8, 1024, 4096
EPS = 1e-6

g = yr.new_kernel_graph()
X = g.new_input(dims=(TOKENS, HIDDEN), dtype=yr.bfloat16)
G = g.new_input(dims=(HIDDEN,), dtype=yr.bfloat16)
W = g.new_input(dims=(HIDDEN, QKV), dtype=yr.bfloat16)
Y = g.matmul(g.rms_norm(X, G, eps=EPS), W)
g.mark_output(Y)
print(g)

rng = np.random.default_rng(0)
x = rng.standard_normal((TOKENS, HIDDEN)).astype(ml_dtypes.bfloat16)
gamma = (1.0 + 0.1 * rng.standard_normal(HIDDEN)).astype(ml_dtypes.bfloat16)
w = (rng.standard_normal((HIDDEN, QKV)) / np.sqrt(HIDDEN)).astype(ml_dtypes.bfloat16)

(y,) = g(inputs=[x, gamma, w], backend="reference")
print(f"output: shape {y.shape}, dtype {y.dtype}")

# The same computation in NumPy float64, from the same bfloat16 inputs.
x64, gamma64, w64 = (a.astype(np.float64) for a in (x, gamma, w))
normed = x64 / np.sqrt(np.mean(x64 * x64, axis=-1, keepdims=True) + EPS) * gamma64
expected = normed @ w64
relative = np.abs(y.astype(np.float64) - expected) / np.abs(expected)
print(f"max relative error vs NumPy float64: {relative.max():.3e} "
      f"(one bfloat16 rounding is at most {2.0**-8:.3e})")
