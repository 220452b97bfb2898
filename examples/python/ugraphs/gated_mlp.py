"""The gated MLP silu(x @ w1) * (x @ w2) as one fused kernel (a uGraph), checked against the
three-kernel graph.

Each block owns a slice of the intermediate columns: its for-loop walks the hidden dim, feeding
both matmuls from the same x tile and accumulating both, then applies SiLU and the product once
after the loop. Shapes are those of a Qwen3-0.6B MLP (hidden 1024, intermediate 3072) for a batch
of 8 tokens. Run it with

    python examples/python/ugraphs/gated_mlp.py
"""

import ml_dtypes
import numpy as np

import yirage as yr
from _check import verify_and_compare

BATCH, HIDDEN, INTER = 8, 1024, 3072
GRID, FORLOOP = 64, 16  # 64 blocks of 48 columns; 16 steps of 64 along the hidden dim


def new_inputs(graph):
    X = graph.new_input(dims=(BATCH, HIDDEN), dtype=yr.bfloat16)
    W1 = graph.new_input(dims=(HIDDEN, INTER), dtype=yr.bfloat16)
    W2 = graph.new_input(dims=(HIDDEN, INTER), dtype=yr.bfloat16)
    return X, W1, W2


naive = yr.new_kernel_graph()
X, W1, W2 = new_inputs(naive)
naive.mark_output(naive.mul(naive.silu(naive.matmul(X, W1)), naive.matmul(X, W2)))

fused = yr.new_kernel_graph()
X, W1, W2 = new_inputs(fused)
tb = yr.new_threadblock_graph(grid_dim=(GRID, 1, 1), block_dim=(128, 1, 1),
                              forloop_range=FORLOOP, reduction_dimx=64)
bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)  # [8, 64] per iteration
bw1 = tb.new_input(dtensor=W1, input_map=(1, -1, -1), forloop_dim=0)  # [64, 48]
bw2 = tb.new_input(dtensor=W2, input_map=(1, -1, -1), forloop_dim=0)  # [64, 48]
gate = tb.forloop_accum(tb.matmul(bx, bw1), acc="sum")
up = tb.forloop_accum(tb.matmul(bx, bw2), acc="sum")
tb.new_output(stensor=tb.mul(tb.silu(gate), up), output_map=(1, -1, -1))
(Y,) = fused.customized(inputs=[X, W1, W2], bgraph=tb)
fused.mark_output(Y)
print(fused)

rng = np.random.default_rng(0)
x = rng.standard_normal((BATCH, HIDDEN)).astype(ml_dtypes.bfloat16)
w1, w2 = ((rng.standard_normal((HIDDEN, INTER)) / np.sqrt(HIDDEN)).astype(ml_dtypes.bfloat16)
          for _ in range(2))
verify_and_compare(naive, fused, [x, w1, w2])
