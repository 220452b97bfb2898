"""RMSNorm + MatMul as one fused kernel (a uGraph), checked against the two-kernel graph.

The fused kernel moves the division by the RMS after the matmul: each block walks the hidden
dim in a for-loop, accumulating sum_k x*g*w (its columns of the output) and sum_k x^2 (the row
sums of squares) together, and scales the product once after the loop. Shapes are those of the
fused QKV projection of a Qwen3-0.6B layer (hidden 1024; 16 query and 8 key/value heads of 128,
so 4096 output columns) for a batch of 8 tokens. Run it with

    python examples/python/ugraphs/rmsnorm_matmul.py
"""

import ml_dtypes
import numpy as np

import yirage as yr
from _check import verify_and_compare

BATCH, HIDDEN, OUT = 8, 1024, 4096
EPS = 1e-6
GRID, FORLOOP = 64, 16  # 64 blocks of 64 output columns; 16 steps of 64 along the hidden dim


def new_inputs(graph):
    X = graph.new_input(dims=(BATCH, HIDDEN), dtype=yr.bfloat16)
    G = graph.new_input(dims=(HIDDEN,), dtype=yr.bfloat16)
    W = graph.new_input(dims=(HIDDEN, OUT), dtype=yr.bfloat16)
    return X, G, W


# The naive graph: one kernel per op.
naive = yr.new_kernel_graph()
X, G, W = new_inputs(naive)
naive.mark_output(naive.matmul(naive.rms_norm(X, G, eps=EPS), W))

# The fused graph: one customized kernel.
fused = yr.new_kernel_graph()
X, G, W = new_inputs(fused)
tb = yr.new_threadblock_graph(grid_dim=(GRID, 1, 1), block_dim=(128, 1, 1),
                              forloop_range=FORLOOP, reduction_dimx=64)
bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)  # [8, 64] per iteration
bg = tb.new_input(dtensor=G, input_map=(-1, -1, -1), forloop_dim=0)  # [64]
bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)  # [64, 64]
product = tb.forloop_accum(tb.matmul(tb.mul(bx, bg), bw), acc="sum")  # [8, 64]
squares = tb.forloop_accum(tb.reduction(tb.square(bx), 1), acc="sum")  # [8, 1]
scale = tb.rsqrt(tb.add_scalar(tb.mul_scalar(squares, 1.0 / HIDDEN), EPS))
tb.new_output(stensor=tb.mul(product, scale), output_map=(1, -1, -1))
(Y,) = fused.customized(inputs=[X, G, W], bgraph=tb)
fused.mark_output(Y)
print(fused)

rng = np.random.default_rng(0)
x = rng.standard_normal((BATCH, HIDDEN)).astype(ml_dtypes.bfloat16)
gamma = (1.0 + 0.1 * rng.standard_normal(HIDDEN)).astype(ml_dtypes.bfloat16)
w = (rng.standard_normal((HIDDEN, OUT)) / np.sqrt(HIDDEN)).astype(ml_dtypes.bfloat16)
verify_and_compare(naive, fused, [x, gamma, w])
