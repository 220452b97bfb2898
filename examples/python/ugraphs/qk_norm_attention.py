"""Qwen3's QK-norm attention for decode: rms_norm of q and k over the head dim, then grouped-query
attention, as two fused kernels (uGraphs) with the norms inside the attention kernel, checked
against the naive graph.

Shapes are a Qwen3-0.6B layer decoding one token against 1024 cached positions: 16 query heads
share 8 key/value heads of 128 (q [8, 2, 128], k and v [8, 1024, 128]), with one rms_norm
weight of 128 for q and one for k. The first kernel normalizes its q tile once (it is the same
every iteration) and each k tile as it arrives, then runs online softmax over its quarter of the
KV length; the second combines the quarters. Run it with

    python examples/python/ugraphs/qk_norm_attention.py
"""

import math

import ml_dtypes
import numpy as np

import yirage as yr
from _check import verify_and_compare

KV_HEADS, GROUP, KV_LEN, HEAD_DIM = 8, 2, 1024, 128
SPLITS, FORLOOP = 4, 16  # 4 blocks per KV head of 256 positions; 16 tiles of 16 positions each
SCALE = 1.0 / math.sqrt(HEAD_DIM)
EPS = 1e-6


def new_inputs(graph):
    Q = graph.new_input(dims=(KV_HEADS, GROUP, HEAD_DIM), dtype=yr.bfloat16)
    K = graph.new_input(dims=(KV_HEADS, KV_LEN, HEAD_DIM), dtype=yr.bfloat16)
    V = graph.new_input(dims=(KV_HEADS, KV_LEN, HEAD_DIM), dtype=yr.bfloat16)
    QN = graph.new_input(dims=(HEAD_DIM,), dtype=yr.bfloat16)
    KN = graph.new_input(dims=(HEAD_DIM,), dtype=yr.bfloat16)
    return Q, K, V, QN, KN


naive = yr.new_kernel_graph()
Q, K, V, QN, KN = new_inputs(naive)
q_normed, k_normed = naive.rms_norm(Q, QN, eps=EPS), naive.rms_norm(K, KN, eps=EPS)
scores = naive.mul_scalar(naive.matmul(q_normed, naive.transpose(k_normed, 1, 2)), SCALE)
naive.mark_output(naive.matmul(naive.softmax(scores, dim=-1), V))

fused = yr.new_kernel_graph()
Q, K, V, QN, KN = new_inputs(fused)
# Kernel 1: the norms and partial attention over a quarter of the KV length per block.
tb = yr.new_threadblock_graph(grid_dim=(KV_HEADS, SPLITS, 1), block_dim=(128, 1, 1),
                              forloop_range=FORLOOP, reduction_dimx=64)
bq = tb.new_input(dtensor=Q, input_map=(0, -1, -1), forloop_dim=-1)  # [1, 2, 128]
bk = tb.new_input(dtensor=K, input_map=(0, 1, -1), forloop_dim=1)  # [1, 16, 128] per iteration
bv = tb.new_input(dtensor=V, input_map=(0, 1, -1), forloop_dim=1)
bqn = tb.new_input(dtensor=QN, input_map=(-1, -1, -1), forloop_dim=-1)  # [128]
bkn = tb.new_input(dtensor=KN, input_map=(-1, -1, -1), forloop_dim=-1)
bq = tb.rms_norm(bq, bqn, eps=EPS)  # loop-invariant: computed once
bk = tb.rms_norm(bk, bkn, eps=EPS)  # per iteration
s = tb.mul_scalar(tb.matmul(bq, tb.transpose(bk, 1, 2)), SCALE)  # [1, 2, 16]
tile_max = tb.reduction_max(s, 2)
e = tb.exp(tb.sub(s, tile_max))
total = tb.forloop_accum_rescale(tb.reduction(e, 2), tile_max)
weighted = tb.forloop_accum_rescale(tb.matmul(e, bv), tile_max)
tb.new_output(stensor=weighted, output_map=(0, 1, -1))
tb.new_output(stensor=total, output_map=(0, 1, -1))
tb.new_output(stensor=tb.forloop_accum_max(tile_max), output_map=(0, 1, -1))
partial = fused.customized(inputs=[Q, K, V, QN, KN], bgraph=tb)
# Kernel 2: combine the splits of each KV head.
combine = yr.new_threadblock_graph(grid_dim=(KV_HEADS, 1, 1), forloop_range=SPLITS)
c_out, c_sum, c_max = (combine.new_input(dtensor=t, input_map=(0, -1, -1), forloop_dim=1)
                       for t in partial)
combine.new_output(stensor=combine.div(combine.forloop_accum_rescale(c_out, c_max),
                                       combine.forloop_accum_rescale(c_sum, c_max)),
                   output_map=(0, -1, -1))
(O,) = fused.customized(inputs=partial, bgraph=combine)
fused.mark_output(O)
print(fused)

rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal(t.dims).astype(ml_dtypes.bfloat16)
           for t in naive.input_types[:3])
q_weight, k_weight = ((1.0 + 0.1 * rng.standard_normal(HEAD_DIM)).astype(ml_dtypes.bfloat16)
                      for _ in range(2))
inputs = [q, k, v, q_weight, k_weight]
verify_and_compare(naive, fused, inputs)
