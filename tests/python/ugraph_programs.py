"""The hand-written uGraphs, built from Python: each as (naive graph, fused graph) over the same
inputs. Shapes are parameters so tests can stay small; tiling parameters pick the grid and the
for-loop. Wrong variants for the verifier's tests are built by the tests themselves."""

import math

import yirage as yr

EPS = 1e-6


def _inputs(graph, types):
    return [graph.new_input(dims=dims, dtype=dtype) for dims, dtype in types]


def rms_norm_matmul(batch, hidden, out, dtype=yr.float32, grid=4, forloop=4):
    """matmul(rms_norm(x, g), w); fused with the division by the RMS after the matmul."""
    types = [((batch, hidden), dtype), ((hidden,), dtype), ((hidden, out), dtype)]
    naive = yr.new_kernel_graph()
    X, G, W = _inputs(naive, types)
    naive.mark_output(naive.matmul(naive.rms_norm(X, G, eps=EPS), W))

    fused = yr.new_kernel_graph()
    X, G, W = _inputs(fused, types)
    tb = yr.new_threadblock_graph(grid_dim=(grid, 1, 1), forloop_range=forloop)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bg = tb.new_input(dtensor=G, input_map=(-1, -1, -1), forloop_dim=0)
    bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
    product = tb.forloop_accum(tb.matmul(tb.mul(bx, bg), bw), acc="sum")
    squares = tb.forloop_accum(tb.reduction(tb.square(bx), 1), acc="sum")
    scale = tb.rsqrt(tb.add_scalar(tb.mul_scalar(squares, 1.0 / hidden), EPS))
    tb.new_output(stensor=tb.mul(product, scale), output_map=(1, -1, -1))
    fused.mark_output(fused.customized(inputs=[X, G, W], bgraph=tb)[0])
    return naive, fused


def gated_mlp(batch, hidden, inter, dtype=yr.float32, grid=4, forloop=4):
    """silu(x @ w1) * (x @ w2); both matmuls and the gating in one block graph."""
    types = [((batch, hidden), dtype), ((hidden, inter), dtype), ((hidden, inter), dtype)]
    naive = yr.new_kernel_graph()
    X, W1, W2 = _inputs(naive, types)
    naive.mark_output(naive.mul(naive.silu(naive.matmul(X, W1)), naive.matmul(X, W2)))

    fused = yr.new_kernel_graph()
    X, W1, W2 = _inputs(fused, types)
    tb = yr.new_threadblock_graph(grid_dim=(grid, 1, 1), forloop_range=forloop)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw1 = tb.new_input(dtensor=W1, input_map=(1, -1, -1), forloop_dim=0)
    bw2 = tb.new_input(dtensor=W2, input_map=(1, -1, -1), forloop_dim=0)
    gate = tb.forloop_accum(tb.matmul(bx, bw1), acc="sum")
    up = tb.forloop_accum(tb.matmul(bx, bw2), acc="sum")
    tb.new_output(stensor=tb.mul(tb.silu(gate), up), output_map=(1, -1, -1))
    fused.mark_output(fused.customized(inputs=[X, W1, W2], bgraph=tb)[0])
    return naive, fused


def lora(batch, hidden, out, rank, dtype=yr.float32, grid=4, forloop=4):
    """x @ w + (x @ a) @ b in one block graph."""
    types = [((batch, hidden), dtype), ((hidden, out), dtype), ((hidden, rank), dtype),
             ((rank, out), dtype)]
    naive = yr.new_kernel_graph()
    X, W, A, B = _inputs(naive, types)
    naive.mark_output(naive.add(naive.matmul(X, W), naive.matmul(naive.matmul(X, A), B)))

    fused = yr.new_kernel_graph()
    X, W, A, B = _inputs(fused, types)
    tb = yr.new_threadblock_graph(grid_dim=(grid, 1, 1), forloop_range=forloop)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
    ba = tb.new_input(dtensor=A, input_map=(-1, -1, -1), forloop_dim=0)
    bb = tb.new_input(dtensor=B, input_map=(1, -1, -1), forloop_dim=-1)
    main = tb.forloop_accum(tb.matmul(bx, bw), acc="sum")
    low = tb.forloop_accum(tb.matmul(bx, ba), acc="sum")
    tb.new_output(stensor=tb.add(main, tb.matmul(low, bb)), output_map=(1, -1, -1))
    fused.mark_output(fused.customized(inputs=[X, W, A, B], bgraph=tb)[0])
    return naive, fused


def attention_decode(kv_heads, group, kv_len, head_dim, dtype=yr.float32, qk_norm=False,
                     splits=2, forloop=4):
    """softmax(q k^T / sqrt(head_dim)) v per KV head (q holds the group's query heads), with
    Qwen3's rms_norm of q and k when qk_norm. Fused: online softmax over the KV length, split
    over `splits` blocks per head, then a combine kernel (none when splits is 1)."""
    types = [((kv_heads, group, head_dim), dtype), ((kv_heads, kv_len, head_dim), dtype),
             ((kv_heads, kv_len, head_dim), dtype)]
    if qk_norm:
        types += [((head_dim,), dtype), ((head_dim,), dtype)]
    scale = 1.0 / math.sqrt(head_dim)

    naive = yr.new_kernel_graph()
    Q, K, V, *norms = _inputs(naive, types)
    if qk_norm:
        Q, K = naive.rms_norm(Q, norms[0], eps=EPS), naive.rms_norm(K, norms[1], eps=EPS)
    scores = naive.mul_scalar(naive.matmul(Q, naive.transpose(K, 1, 2)), scale)
    naive.mark_output(naive.matmul(naive.softmax(scores, -1), V))

    fused = yr.new_kernel_graph()
    inputs = _inputs(fused, types)
    Q, K, V, *norms = inputs
    tb = yr.new_threadblock_graph(grid_dim=(kv_heads, splits, 1), forloop_range=forloop)
    bq = tb.new_input(dtensor=Q, input_map=(0, -1, -1), forloop_dim=-1)
    bk = tb.new_input(dtensor=K, input_map=(0, 1, -1), forloop_dim=1)
    bv = tb.new_input(dtensor=V, input_map=(0, 1, -1), forloop_dim=1)
    if qk_norm:
        bq = tb.rms_norm(bq, tb.new_input(dtensor=norms[0], input_map=(-1, -1, -1), forloop_dim=-1),
                         eps=EPS)
        bk = tb.rms_norm(bk, tb.new_input(dtensor=norms[1], input_map=(-1, -1, -1), forloop_dim=-1),
                         eps=EPS)
    s = tb.mul_scalar(tb.matmul(bq, tb.transpose(bk, 1, 2)), scale)
    tile_max = tb.reduction_max(s, 2)
    e = tb.exp(tb.sub(s, tile_max))
    total = tb.forloop_accum_rescale(tb.reduction(e, 2), tile_max)
    weighted = tb.forloop_accum(tb.matmul(e, bv), acc="rescaled_sum", rescale=tile_max)
    if splits == 1:
        tb.new_output(stensor=tb.div(weighted, total), output_map=(0, -1, -1))
        fused.mark_output(fused.customized(inputs=inputs, bgraph=tb)[0])
        return naive, fused
    # Each split writes its unnormalized output, its sum and its running max; the combine kernel
    # rescales the splits to their common max and normalizes.
    tb.new_output(stensor=weighted, output_map=(0, 1, -1))
    tb.new_output(stensor=total, output_map=(0, 1, -1))
    tb.new_output(stensor=tb.forloop_accum_max(tile_max), output_map=(0, 1, -1))
    partial = fused.customized(inputs=inputs, bgraph=tb)
    combine = yr.new_threadblock_graph(grid_dim=(kv_heads, 1, 1), forloop_range=splits)
    out, sums, maxes = (combine.new_input(dtensor=t, input_map=(0, -1, -1), forloop_dim=1)
                        for t in partial)
    combine.new_output(stensor=combine.div(combine.forloop_accum_rescale(out, maxes),
                                           combine.forloop_accum_rescale(sums, maxes)),
                       output_map=(0, -1, -1))
    fused.mark_output(fused.customized(inputs=partial, bgraph=combine)[0])
    return naive, fused


def small_programs(dtype=yr.float32):
    """The five uGraphs at small shapes, by name."""
    return {
        "rms_norm_matmul": rms_norm_matmul(4, 64, 32, dtype),
        "gated_mlp": gated_mlp(4, 64, 32, dtype),
        "lora": lora(4, 64, 32, 8, dtype),
        "gqa_decode": attention_decode(2, 4, 64, 16, dtype),
        "qk_norm_attention": attention_decode(2, 4, 64, 16, dtype, qk_norm=True),
    }
