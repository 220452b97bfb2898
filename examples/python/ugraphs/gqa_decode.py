"""Grouped-query decode attention with online softmax, split over the KV length (flash decoding),
as two fused kernels (uGraphs), checked against the naive graph.

Shapes are a Qwen3-0.6B layer decoding one token against 1024 cached positions: 16 query heads
share 8 key/value heads of dimension 128, so each KV head serves a group of 2 query heads
(q [8, 2, 128], k and v [8, 1024, 128]). The first kernel runs a block per (KV head, quarter of
the KV length); its for-loop walks its quarter in tiles of 16 positions, keeping scores relative
to each tile's max and accumulating exp-sums and exp-weighted values rescaled to the running max.
The second kernel rescales the four partial results to their common max and normalizes. Run it
with

    python examples/python/ugraphs/gqa_decode.py
"""

import math
import ml_dtypes
import numpy as np

import yirage as yr
from _check import verify_and_compare

KV_HEADS, GROUP, KV_LEN, HEAD_DIM = 8, 2, 1024, 128
SPLITS, FORLOOP = 4, 16  # 4 blocks per KV head of 256 positions; 16 tiles of 16 positions each
SCALE = 1.0 / math.sqrt(HEAD_DIM)


def new_inputs(graph):
    Q = graph.new_input(dims=(KV_HEADS, GROUP, HEAD_DIM), dtype=yr.bfloat16)
    K = graph.new_input(dims=(KV_HEADS, KV_LEN, HEAD_DIM), dtype=yr.bfloat16)
    V = graph.new_input(dims=(KV_HEADS, KV_LEN, HEAD_DIM), dtype=yr.bfloat16)
    return Q, K, V


naive = yr.new_kernel_graph()
Q, K, V = new_inputs(naive)
scores = naive.mul_scalar(naive.matmul(Q, naive.transpose(K, 1, 2)), SCALE)
naive.mark_output(naive.matmul(naive.softmax(scores, dim=-1), V))

fused = yr.new_kernel_graph()
Q, K, V = new_inputs(fused)
# Kernel 1: partial attention over a quarter of the KV length per block.
tb = yr.new_threadblock_graph(grid_dim=(KV_HEADS, SPLITS, 1), block_dim=(128, 1, 1),
                              forloop_range=FORLOOP, reduction_dimx=64)
bq = tb.new_input(dtensor=Q, input_map=(0, -1, -1), forloop_dim=-1)  # [1, 2, 128]
bk = tb.new_input(dtensor=K, input_map=(0, 1, -1), forloop_dim=1)  # [1, 16, 128] per iteration
bv = tb.new_input(dtensor=V, input_map=(0, 1, -1), forloop_dim=1)  # [1, 16, 128] per iteration
s = tb.mul_scalar(tb.matmul(bq, tb.transpose(bk, 1, 2)), SCALE)  # [1, 2, 16]
tile_max = tb.reduction_max(s, 2)  # [1, 2, 1]
e = tb.exp(tb.sub(s, tile_max))
total = tb.forloop_accum_rescale(tb.reduction(e, 2), tile_max)  # [1, 2, 1]
weighted = tb.forloop_accum_rescale(tb.matmul(e, bv), tile_max)  # [1, 2, 128]
tb.new_output(stensor=weighted, output_map=(0, 1, -1))  # [8, 8, 128]
tb.new_output(stensor=total, output_map=(0, 1, -1))  # [8, 8, 1]
tb.new_output(stensor=tb.forloop_accum_max(tile_max), output_map=(0, 1, -1))  # [8, 8, 1]
partial_out, partial_sum, partial_max = fused.customized(inputs=[Q, K, V], bgraph=tb)
# Kernel 2: combine the splits of each KV head; its for-loop walks the splits.
combine = yr.new_threadblock_graph(grid_dim=(KV_HEADS, 1, 1), forloop_range=SPLITS)
c_out = combine.new_input(dtensor=partial_out, input_map=(0, -1, -1), forloop_dim=1)
c_sum = combine.new_input(dtensor=partial_sum, input_map=(0, -1, -1), forloop_dim=1)
c_max = combine.new_input(dtensor=partial_max, input_map=(0, -1, -1), forloop_dim=1)
combine.new_output(stensor=combine.div(combine.forloop_accum_rescale(c_out, c_max),
                                       combine.forloop_accum_rescale(c_sum, c_max)),
                   output_map=(0, -1, -1))
(O,) = fused.customized(inputs=[partial_out, partial_sum, partial_max], bgraph=combine)
fused.mark_output(O)
print(fused)

rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal(t.dims).astype(ml_dtypes.bfloat16) for t in naive.input_types)
verify_and_compare(naive, fused, [q, k, v])
