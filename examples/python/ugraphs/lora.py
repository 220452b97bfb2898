"""LoRA, x @ w + (x @ a) @ b, as one fused kernel (a uGraph), checked against the four-kernel
graph.

Each block owns a slice of the output columns. Its for-loop walks the hidden dim, accumulating
both x @ w (its columns) and the low-rank x @ a (all rank columns, shared by every block); after
the loop it multiplies the low-rank result by its slice of b, which every iteration would read
the same, and adds. Shapes are a rank-16 adapter on the QKV projection of a Qwen3-0.6B layer
(hidden 1024, 4096 output columns) for a batch of 8 tokens. Run it with

    python examples/python/ugraphs/lora.py
"""

import ml_dtypes
import numpy as np

import yirage as yr
from _check import verify_and_compare

BATCH, HIDDEN, OUT, RANK = 8, 1024, 4096, 16
GRID, FORLOOP = 64, 16  # 64 blocks of 64 output columns; 16 steps of 64 along the hidden dim


def new_inputs(graph):
    X = graph.new_input(dims=(BATCH, HIDDEN), dtype=yr.bfloat16)
    W = graph.new_input(dims=(HIDDEN, OUT), dtype=yr.bfloat16)
    A = graph.new_input(dims=(HIDDEN, RANK), dtype=yr.bfloat16)
    B = graph.new_input(dims=(RANK, OUT), dtype=yr.bfloat16)
    return X, W, A, B


naive = yr.new_kernel_graph()
X, W, A, B = new_inputs(naive)
naive.mark_output(naive.add(naive.matmul(X, W), naive.matmul(naive.matmul(X, A), B)))

fused = yr.new_kernel_graph()
X, W, A, B = new_inputs(fused)
tb = yr.new_threadblock_graph(grid_dim=(GRID, 1, 1), block_dim=(128, 1, 1),
                              forloop_range=FORLOOP, reduction_dimx=64)
bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)  # [8, 64] per iteration
bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)  # [64, 64]
ba = tb.new_input(dtensor=A, input_map=(-1, -1, -1), forloop_dim=0)  # [64, 16]
bb = tb.new_input(dtensor=B, input_map=(1, -1, -1), forloop_dim=-1)  # [16, 64], loop-invariant
main = tb.forloop_accum(tb.matmul(bx, bw), acc="sum")
low = tb.forloop_accum(tb.matmul(bx, ba), acc="sum")  # [8, 16]
tb.new_output(stensor=tb.add(main, tb.matmul(low, bb)), output_map=(1, -1, -1))
(Y,) = fused.customized(inputs=[X, W, A, B], bgraph=tb)
fused.mark_output(Y)
print(fused)

rng = np.random.default_rng(0)
x = rng.standard_normal((BATCH, HIDDEN)).astype(ml_dtypes.bfloat16)
w = (rng.standard_normal((HIDDEN, OUT)) / np.sqrt(HIDDEN)).astype(ml_dtypes.bfloat16)
a = (rng.standard_normal((HIDDEN, RANK)) / np.sqrt(HIDDEN)).astype(ml_dtypes.bfloat16)
b = (rng.standard_normal((RANK, OUT)) / np.sqrt(RANK)).astype(ml_dtypes.bfloat16)
verify_and_compare(naive, fused, [x, w, a, b])
