"""Block graphs (uGraphs) from Python: tiles and their phases, the methods generated from the op
table, accumulators against NumPy, customized kernels, the hand-written uGraphs, and errors."""

import gc

import ml_dtypes
import numpy as np
import pytest

import ugraph_programs
import yirage as yr


def random_inputs(graph, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(t.dims).astype(yr.numpy_dtype(t.dtype)) for t in graph.input_types]


def kernel_with(*shapes, dtype=yr.float32):
    g = yr.new_kernel_graph()
    return g, [g.new_input(dims=dims, dtype=dtype) for dims in shapes]


# ---------------------------------------------------------------------------------------------
# Tiles, phases and the block graph's own properties


def test_tile_dims_follow_the_maps_and_the_forloop():
    g, (X, W) = kernel_with((8, 64), (64, 96))
    tb = yr.new_threadblock_graph(grid_dim=(4, 1, 1), block_dim=(256, 1, 1), forloop_range=4,
                                  reduction_dimx=32)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
    whole = tb.new_input(dtensor=W, input_map=(0, -1, -1), forloop_dim=-1)
    assert isinstance(bx, yr.STensor)
    assert bx.dims == (8, 16) and bw.dims == (16, 24) and whole.dims == (16, 96)
    assert bx.dtype == yr.float32 and bx.num_dims == 2
    assert tb.matmul(bx, bw).dims == (8, 24)
    assert tb.transpose(bw, 0, 1).dims == (24, 16)
    assert tb.concat([bx, bx], 0).dims == (16, 16)
    assert tb.reduction_to_dimx(whole, 1).dims == (16, 32)
    assert tb.grid_dim == (4, 1, 1) and tb.block_dim == (256, 1, 1)
    assert tb.forloop_range == 4 and tb.reduction_dimx == 32
    assert tb.num_inputs == 3 and tb.num_outputs == 0
    assert tb.input_maps == [((-1, -1, -1), 1), ((1, -1, -1), 0), ((0, -1, -1), -1)]
    assert [t.dims for t in tb.input_types] == [(8, 64), (64, 96), (64, 96)]
    assert "STensor(float32[8, 16], phase=loop" in repr(bx)
    assert "grid (4, 1, 1), forloop_range 4, 3 inputs, 0 outputs" in repr(tb)


def test_short_grids_and_maps_fill_the_missing_axes():
    g, (X,) = kernel_with((8, 64))
    tb = yr.new_threadblock_graph(grid_dim=(2,))
    assert tb.grid_dim == (2, 1, 1) and tb.block_dim == (128, 1, 1)
    assert tb.forloop_range == 1 and tb.reduction_dimx == 64
    tb.new_input(dtensor=X, input_map=(0,), forloop_dim=-1)
    assert tb.input_maps == [((0, -1, -1), -1)]
    assert yr.BlockGraph(grid_dim=(2, 3)).grid_dim == (2, 3, 1)


def test_phases_follow_the_forloop():
    g, (X, N) = kernel_with((8, 64), (16,))
    tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1), forloop_range=4)
    loop = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    invariant = tb.new_input(dtensor=N, input_map=(-1, -1, -1), forloop_dim=-1)
    assert loop.phase == "loop" and invariant.phase == "invariant"
    assert tb.exp(invariant).phase == "invariant"
    assert tb.mul(loop, invariant).phase == "loop"
    assert tb.rms_norm(loop, invariant).phase == "loop"
    after = tb.forloop_accum(loop, acc="max")
    assert after.phase == "after_loop" and after.dims == (8, 16)
    assert tb.mul(after, invariant).phase == "after_loop"
    assert tb.forloop_accum(invariant).phase == "after_loop"
    assert tb.sqrt(tb.sum(after, 1)).phase == "after_loop"


def test_reductions_keep_tile_dims_unless_asked():
    g, (X,) = kernel_with((8, 64))
    tb = yr.new_threadblock_graph(grid_dim=(2, 1, 1), forloop_range=2)
    bx = tb.new_input(dtensor=X, input_map=(0, -1, -1), forloop_dim=1)
    assert bx.dims == (4, 32)
    assert tb.sum(bx, 1).dims == (4, 1)
    assert tb.max(bx, 0).dims == (1, 32)
    assert tb.mean(bx, -1, keepdim=False).dims == (4,)
    assert tb.reduction(bx, 1).dims == (4, 1)
    assert tb.reduction_max(bx, 0).dims == (1, 32)
    assert tb.softmax(bx).dims == (4, 32)


def test_block_methods_are_generated_from_the_op_table():
    generated = [name for name in yr.op_names()
                 if yr.op_info(name).category in ("unary", "binary", "reduce")]
    assert {"exp", "silu", "mul_scalar", "div", "pow", "sum", "max", "mean"} <= set(generated)
    g, (X, Y) = kernel_with((4, 8), (4, 8))
    tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1))
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=-1)
    by = tb.new_input(dtensor=Y, input_map=(-1, -1, -1), forloop_dim=-1)
    for name in generated:
        method = getattr(tb, name)
        category = yr.op_info(name).category
        if category == "binary":
            tile = method(bx, by)
        elif category == "reduce":
            tile = method(bx, 1)
        elif yr.op_info(name).attributes:
            tile = method(bx, scalar=0.5)
        else:
            tile = method(bx)
        assert tile.dims == ((4, 1) if category == "reduce" else (4, 8)), name
    # structural ops a block does not apply have no block method
    for name in ("reshape", "split", "embedding", "rope", "customized"):
        assert not hasattr(tb, name)


def test_tiles_compare_by_graph_and_node():
    g, (X,) = kernel_with((4, 8))
    tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1))
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=-1)
    e = tb.exp(bx)
    assert e == e and e != bx
    assert len({e, e, bx}) == 2
    assert e.node == 1


def test_tiles_keep_their_block_graph_alive():
    def make():
        g, (X,) = kernel_with((4, 8))
        tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1))
        return tb.exp(tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=-1))

    tile = make()
    gc.collect()
    assert tile.dims == (4, 8) and tile.phase == "invariant"


# ---------------------------------------------------------------------------------------------
# Accumulators and customized kernels on the reference backend, against NumPy


def accumulate_graph(acc):
    """x [8, 16] over a grid of 2 (rows) and a for-loop of 4 (columns) accumulated with `acc`."""
    g, (X,) = kernel_with((8, 16))
    tb = yr.new_threadblock_graph(grid_dim=(2, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(0, -1, -1), forloop_dim=1)
    tb.new_output(stensor=tb.forloop_accum(bx, acc=acc), output_map=(0, -1, -1))
    g.mark_output(g.customized(inputs=[X], bgraph=tb)[0])
    return g


@pytest.mark.parametrize("acc, expected", [
    ("sum", lambda t: t.sum(axis=1)),
    (None, lambda t: t.sum(axis=1)),
    ("mean", lambda t: t.mean(axis=1)),
    ("rms", lambda t: np.sqrt((t * t).mean(axis=1))),
    ("max", lambda t: t.max(axis=1)),
])
def test_accumulators_match_numpy(acc, expected):
    g = accumulate_graph(acc)
    assert g.output_types[0].dims == (8, 4)
    x = np.random.default_rng(1).standard_normal((8, 16)).astype(np.float32)
    (y,) = g([x])
    tiles = x.astype(np.float64).reshape(8, 4, 4)  # [row, iteration, column of the tile]
    np.testing.assert_allclose(y, expected(tiles), rtol=1e-6, atol=1e-6)


def test_rescaled_sum_matches_numpy():
    g, (X, M) = kernel_with((4, 12), (4, 3))
    tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1), forloop_range=3)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bm = tb.new_input(dtensor=M, input_map=(-1, -1, -1), forloop_dim=1)
    assert bx.dims == (4, 4) and bm.dims == (4, 1)
    tb.new_output(stensor=tb.forloop_accum_rescale(bx, bm), output_map=(-1, -1, -1))
    tb.new_output(stensor=tb.forloop_accum(bx, acc="rescaled_sum", rescale=bm),
                  output_map=(-1, -1, -1))
    tb.new_output(stensor=tb.forloop_accum_max(bm), output_map=(-1, -1, -1))
    outputs = g.customized(inputs=[X, M], bgraph=tb)
    assert [t.dims for t in outputs] == [(4, 4), (4, 4), (4, 1)]
    for tensor in outputs:
        g.mark_output(tensor)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 12)).astype(np.float32)
    m = rng.standard_normal((4, 3)).astype(np.float32)
    first, second, running_max = g([x, m])
    tiles = x.astype(np.float64).reshape(4, 3, 4)
    m64 = m.astype(np.float64)
    top = m64.max(axis=1, keepdims=True)
    expected = (tiles * np.exp(m64 - top)[:, :, None]).sum(axis=1)
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(running_max, top.astype(np.float32))


def test_customized_returns_one_tensor_per_output():
    naive, fused = ugraph_programs.attention_decode(2, 4, 64, 16, splits=2)
    assert fused.num_nodes == 5  # three inputs, the split kernel, the combine kernel
    text = str(fused)
    assert text.count("customized(") == 2
    assert "grid_dim=(2, 2, 1)" in text and "forloop_range=4" in text
    assert fused.output_types == naive.output_types


def test_customized_keeps_its_own_copy_of_the_block_graph():
    def build():
        g, (X, W) = kernel_with((4, 32), (32, 16))
        tb = yr.new_threadblock_graph(grid_dim=(2, 1, 1), forloop_range=4)
        bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
        bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
        y = tb.forloop_accum(tb.matmul(bx, bw))
        tb.new_output(stensor=y, output_map=(1, -1, -1))
        g.mark_output(g.customized(inputs=[X, W], bgraph=tb)[0])
        # changing the block graph afterwards leaves the kernel graph as it was
        tb.new_output(stensor=tb.exp(y), output_map=(1, -1, -1))
        assert tb.num_outputs == 2
        return g

    g = build()
    gc.collect()  # the Python block graph is gone; the kernel graph holds its copy
    assert g.num_outputs == 1 and g.output_types[0].dims == (4, 16)
    x, w = random_inputs(g)
    (y,) = g([x, w])
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.astype(np.float64), rtol=1e-5)


def test_one_block_graph_serves_several_kernels():
    g, (X, W1, W2) = kernel_with((4, 32), (32, 16), (32, 16))
    tb = yr.new_threadblock_graph(grid_dim=(2, 1, 1), forloop_range=2)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw = tb.new_input(dtensor=W1, input_map=(1, -1, -1), forloop_dim=0)
    tb.new_output(stensor=tb.forloop_accum(tb.matmul(bx, bw)), output_map=(1, -1, -1))
    (A,) = g.customized(inputs=[X, W1], bgraph=tb)
    (B,) = g.customized(inputs=[X, W2], bgraph=tb)
    g.mark_output(A)
    g.mark_output(B)
    x, w1, w2 = random_inputs(g)
    a, b = g([x, w1, w2])
    np.testing.assert_allclose(a, x.astype(np.float64) @ w1.astype(np.float64), rtol=1e-5)
    np.testing.assert_allclose(b, x.astype(np.float64) @ w2.astype(np.float64), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# The hand-written uGraphs


@pytest.mark.parametrize("name", sorted(ugraph_programs.small_programs()))
@pytest.mark.parametrize("dtype", [yr.float32, yr.bfloat16])
def test_hand_written_ugraphs_verify_and_match_the_naive_graph(name, dtype):
    naive, fused = ugraph_programs.small_programs(dtype)[name]
    result = yr.verify(naive, fused)
    assert result.equivalent, result.reason
    inputs = random_inputs(naive, seed=3)
    (expected,) = naive(inputs)
    (actual,) = fused(inputs)
    assert actual.dtype == expected.dtype == yr.numpy_dtype(dtype)
    expected64, actual64 = expected.astype(np.float64), actual.astype(np.float64)
    # Both round once, at the output: at most one rounding step apart.
    tolerance = 2.0**-23 if dtype == yr.float32 else 2.0**-7
    np.testing.assert_allclose(actual64, expected64, rtol=tolerance,
                               atol=tolerance * np.abs(expected64).max())


@pytest.mark.parametrize("grid, forloop", [(1, 1), (2, 8), (8, 2), (4, 16)])
def test_ugraphs_verify_at_other_tilings(grid, forloop):
    for naive, fused in (ugraph_programs.rms_norm_matmul(4, 64, 32, grid=grid, forloop=forloop),
                         ugraph_programs.gated_mlp(4, 64, 32, grid=grid, forloop=forloop),
                         ugraph_programs.lora(4, 64, 32, 8, grid=grid, forloop=forloop)):
        result = yr.verify(naive, fused)
        assert result.equivalent, result.reason


@pytest.mark.parametrize("splits", [1, 2, 4])
def test_attention_verifies_with_any_kv_split(splits):
    naive, fused = ugraph_programs.attention_decode(2, 4, 64, 16, splits=splits, forloop=2)
    assert fused.num_nodes == (4 if splits == 1 else 5)
    result = yr.verify(naive, fused)
    assert result.equivalent, result.reason


def test_hand_written_ugraph_tiles():
    naive, fused = ugraph_programs.rms_norm_matmul(4, 64, 32, grid=4, forloop=4)
    g, (X, G, W) = kernel_with((4, 64), (64,), (64, 32))
    tb = yr.new_threadblock_graph(grid_dim=(4, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bg = tb.new_input(dtensor=G, input_map=(-1, -1, -1), forloop_dim=0)
    bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
    assert (bx.dims, bg.dims, bw.dims) == ((4, 16), (16,), (16, 8))
    product = tb.forloop_accum(tb.matmul(tb.mul(bx, bg), bw))
    squares = tb.forloop_accum(tb.reduction(tb.square(bx), 1))
    assert (product.dims, squares.dims) == ((4, 8), (4, 1))


def test_fused_graph_json_round_trip():
    naive, fused = ugraph_programs.attention_decode(2, 4, 64, 16, qk_norm=True, splits=2)
    text = fused.to_json()
    assert text.count('"block_graph"') == 2
    back = yr.graph_from_json(text)
    assert back.to_json() == text
    assert back.fingerprint() == fused.fingerprint()
    assert str(back) == str(fused)
    result = yr.verify(naive, back)
    assert result.equivalent, result.reason
    inputs = random_inputs(naive)
    np.testing.assert_array_equal(back(inputs)[0], fused(inputs)[0])


# ---------------------------------------------------------------------------------------------
# Errors


def test_maps_that_do_not_divide_are_refused():
    g, (X, W) = kernel_with((8, 64), (64, 96))
    tb = yr.new_threadblock_graph(grid_dim=(5, 1, 1), forloop_range=3)
    with pytest.raises(yr.UserError, match=r"input_map \(1, -1, -1\) splits dim 1 of "
                                           r"float32\[64, 96\] \(extent 96\) over grid axis x of "
                                           r"extent 5, which does not divide it"):
        tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=-1)
    with pytest.raises(yr.UserError, match=r"forloop_dim 1 of float32\[8, 64\] has extent 64 "
                                           r"per block, which forloop_range 3 does not divide"):
        tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    with pytest.raises(yr.UserError, match=r"maps grid axes x and y to the same dim 0"):
        tb.new_input(dtensor=X, input_map=(0, 0, -1), forloop_dim=-1)
    with pytest.raises(yr.UserError, match=r"forloop_dim 2 is out of range for float32\[8, 64\]"):
        tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=2)
    with pytest.raises(yr.UserError, match=r"input_map has 4 entries; expected 1 to 3"):
        tb.new_input(dtensor=X, input_map=(-1, -1, -1, -1), forloop_dim=-1)
    with pytest.raises(yr.UserError, match=r"input_map 1099511627776 is out of range"):
        tb.new_input(dtensor=X, input_map=(2**40,), forloop_dim=-1)


def test_grids_beyond_the_limits_are_refused():
    with pytest.raises(yr.UserError, match=r"grid_dim \(1, 70000, 1\) has extent 70000 on axis "
                                           r"y; expected 1 to 65535"):
        yr.new_threadblock_graph(grid_dim=(1, 70000, 1))
    with pytest.raises(yr.UserError, match=r"has 2097152 blocks; expected at most 1048576"):
        yr.new_threadblock_graph(grid_dim=(2048, 1024, 1))
    with pytest.raises(yr.UserError, match=r"block_dim \(64, 64, 1\) has 4096 threads"):
        yr.new_threadblock_graph(grid_dim=(1,), block_dim=(64, 64, 1))
    with pytest.raises(yr.UserError, match="forloop_range 0 is not positive"):
        yr.new_threadblock_graph(grid_dim=(1,), forloop_range=0)
    with pytest.raises(yr.UserError, match=r"grid_dim has 0 extents; expected 1 to 3"):
        yr.new_threadblock_graph(grid_dim=())


def test_output_before_accumulation_is_refused():
    g, (X,) = kernel_with((8, 64))
    tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    with pytest.raises(yr.UserError, match=r"float32\[8, 16\]\) is saved before accumulation; "
                                           r"expected an after-loop tile"):
        tb.new_output(stensor=tb.exp(bx), output_map=(-1, -1, -1))


def test_output_maps_must_cover_every_axis_of_the_grid():
    g, (X,) = kernel_with((8, 64))
    tb = yr.new_threadblock_graph(grid_dim=(2, 1, 1), forloop_range=4)
    y = tb.forloop_accum(tb.new_input(dtensor=X, input_map=(0, -1, -1), forloop_dim=1))
    with pytest.raises(yr.UserError, match=r"output_map \(-1, -1, -1\) leaves grid axis x "
                                           r"\(extent 2\) unmapped"):
        tb.new_output(stensor=y, output_map=(-1, -1, -1))


def test_accumulator_errors():
    g, (X, M) = kernel_with((8, 64), (8, 4))
    tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bm = tb.new_input(dtensor=M, input_map=(-1, -1, -1), forloop_dim=1)
    with pytest.raises(yr.UserError, match="unknown accumulator 'median'; expected one of sum, "
                                           "mean, rms, max, rescaled_sum"):
        tb.forloop_accum(bx, acc="median")
    with pytest.raises(yr.UserError, match=r"forloop_accum\(rescaled_sum\) needs a second "
                                           r"operand"):
        tb.forloop_accum(bx, acc="rescaled_sum")
    with pytest.raises(yr.UserError, match=r"forloop_accum\(sum\) takes one operand; got two"):
        tb.forloop_accum(bx, acc="sum", rescale=bm)
    after = tb.forloop_accum(bx)
    with pytest.raises(yr.UserError, match=r"forloop_accum\(max\) of a tile that is already "
                                           r"accumulated"):
        tb.forloop_accum_max(after)
    with pytest.raises(yr.UserError, match="mixes a per-iteration tile with an accumulated"):
        tb.add(after, bx)


def test_tile_shape_errors_name_the_tiles():
    g, (X, W) = kernel_with((8, 64), (64, 96))
    tb = yr.new_threadblock_graph(grid_dim=(1, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw = tb.new_input(dtensor=W, input_map=(-1, -1, -1), forloop_dim=-1)
    with pytest.raises(yr.UserError, match=r"matmul: inner dimensions differ.*float32\[8, 16\]"):
        tb.matmul(bx, bw)
    with pytest.raises(yr.UserError, match=r"reduce_to_dimx: dim 1 of float32\[8, 16\] has "
                                           r"extent 16, which reduction_dimx 64 does not divide"):
        tb.reduction_to_dimx(bx, 1)


def test_tiles_of_another_block_graph_are_refused():
    g, (X,) = kernel_with((8, 64))
    tb, other = (yr.new_threadblock_graph(grid_dim=(1, 1, 1)) for _ in range(2))
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=-1)
    ox = other.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=-1)
    with pytest.raises(yr.UserError, match=r"mul: b \(float32\[8, 64\]\) belongs to another block "
                                           r"graph; expected a tile created by this graph"):
        tb.mul(bx, ox)
    with pytest.raises(yr.UserError, match="new_output: stensor .* belongs to another block"):
        tb.new_output(stensor=ox, output_map=(-1, -1, -1))
    with pytest.raises(yr.UserError, match="concat: tensor 1 .* belongs to another block"):
        tb.concat([bx, ox], 0)


def test_customized_checks_its_inputs():
    g, (X, W) = kernel_with((8, 64), (64, 96))
    tb = yr.new_threadblock_graph(grid_dim=(2, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
    with pytest.raises(yr.UserError, match="the block graph has no outputs; expected at least "
                                           "one new_output"):
        g.customized(inputs=[X, W], bgraph=tb)
    tb.new_output(stensor=tb.forloop_accum(tb.matmul(bx, bw)), output_map=(1, -1, -1))
    with pytest.raises(yr.UserError, match="customized: the block graph has 2 inputs; got 1 "
                                           "tensors"):
        g.customized(inputs=[X], bgraph=tb)
    with pytest.raises(yr.UserError, match=r"customized: input 0 is float32\[64, 96\], but block "
                                           r"input 0 was declared over float32\[8, 64\]"):
        g.customized(inputs=[W, X], bgraph=tb)
    other, (OX, OW) = kernel_with((8, 64), (64, 96))
    with pytest.raises(yr.UserError, match=r"customized: tensor 0 \(float32\[8, 64\]\) belongs "
                                           r"to another kernel graph"):
        g.customized(inputs=[OX, W], bgraph=tb)
    assert [t.dims for t in other.customized(inputs=[OX, OW], bgraph=tb)] == [(8, 96)]
