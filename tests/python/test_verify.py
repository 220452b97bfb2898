"""yr.verify from Python: the result's fields, wrong uGraphs rejected with a reason, output
permutations, options and their errors."""

import math

import pytest

import ugraph_programs
import yirage as yr


def gated_mlp_with(acc="sum", swap_weights=False):
    """The fused gated MLP with the given accumulator, or with w1 and w2 swapped in customized."""
    naive, _ = ugraph_programs.gated_mlp(4, 64, 32)
    fused = yr.new_kernel_graph()
    X = fused.new_input(dims=(4, 64), dtype=yr.float32)
    W1 = fused.new_input(dims=(64, 32), dtype=yr.float32)
    W2 = fused.new_input(dims=(64, 32), dtype=yr.float32)
    tb = yr.new_threadblock_graph(grid_dim=(4, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw1 = tb.new_input(dtensor=W1, input_map=(1, -1, -1), forloop_dim=0)
    bw2 = tb.new_input(dtensor=W2, input_map=(1, -1, -1), forloop_dim=0)
    gate = tb.forloop_accum(tb.matmul(bx, bw1), acc=acc)
    up = tb.forloop_accum(tb.matmul(bx, bw2), acc=acc)
    tb.new_output(stensor=tb.mul(tb.silu(gate), up), output_map=(1, -1, -1))
    inputs = [X, W2, W1] if swap_weights else [X, W1, W2]
    fused.mark_output(fused.customized(inputs=inputs, bgraph=tb)[0])
    return naive, fused


def decode_with(swap_div=False, accumulate_max_as="max"):
    """Single-kernel GQA decode; optionally with the normalizing division's operands swapped."""
    naive, _ = ugraph_programs.attention_decode(2, 4, 64, 16, splits=1)
    fused = yr.new_kernel_graph()
    Q = fused.new_input(dims=(2, 4, 16), dtype=yr.float32)
    K = fused.new_input(dims=(2, 64, 16), dtype=yr.float32)
    V = fused.new_input(dims=(2, 64, 16), dtype=yr.float32)
    tb = yr.new_threadblock_graph(grid_dim=(2, 1, 1), forloop_range=4)
    bq = tb.new_input(dtensor=Q, input_map=(0, -1, -1), forloop_dim=-1)
    bk = tb.new_input(dtensor=K, input_map=(0, -1, -1), forloop_dim=1)
    bv = tb.new_input(dtensor=V, input_map=(0, -1, -1), forloop_dim=1)
    s = tb.mul_scalar(tb.matmul(bq, tb.transpose(bk, 1, 2)), 1.0 / math.sqrt(16))
    m = tb.reduction_max(s, 2)
    e = tb.exp(tb.sub(s, m))
    total = tb.forloop_accum_rescale(tb.reduction(e, 2), m)
    weighted = tb.forloop_accum_rescale(tb.matmul(e, bv), m)
    out = tb.div(total, weighted) if swap_div else tb.div(weighted, total)
    tb.new_output(stensor=out, output_map=(0, -1, -1))
    fused.mark_output(fused.customized(inputs=[Q, K, V], bgraph=tb)[0])
    return naive, fused


def test_an_equivalent_pair_reports_its_evidence():
    naive, fused = ugraph_programs.gated_mlp(4, 64, 32)
    result = yr.verify(naive, fused)
    assert isinstance(result, yr.VerifyResult)
    assert result.equivalent and bool(result)
    assert result.method == "finite-field x2 + float64"
    assert result.trials == 2
    assert result.reason == ""
    assert result.output_permutation == [0]
    assert 0.0 <= result.max_rel_error <= yr.float_error_bound(yr.float32)
    assert result.seconds > 0.0
    assert repr(result).startswith("VerifyResult(equivalent=True, method='finite-field x2")


def test_options_change_the_checks():
    naive, fused = ugraph_programs.lora(4, 64, 32, 8)
    three = yr.verify(naive, fused, trials=3, seed=7)
    assert three.equivalent and three.trials == 3
    assert three.method == "finite-field x3 + float64"
    exact_only = yr.verify(naive, fused, float_check=False)
    assert exact_only.equivalent and exact_only.method == "finite-field x2"
    assert exact_only.max_rel_error == 0.0
    again = yr.verify(naive, fused, trials=3, seed=7)
    assert again.max_rel_error == three.max_rel_error  # the seed fixes the inputs


def test_too_few_trials_are_a_user_error():
    naive, fused = ugraph_programs.lora(4, 64, 32, 8)
    with pytest.raises(yr.UserError, match="verify: trials 1 is too few; expected at least 2"):
        yr.verify(naive, fused, trials=1)


def test_error_bounds_per_dtype():
    assert yr.float_error_bound(yr.float32) < yr.float_error_bound(yr.float16)
    assert yr.float_error_bound(yr.float16) < yr.float_error_bound(yr.bfloat16)


@pytest.mark.parametrize("acc", ["mean", "max", "rms"])
def test_a_wrong_accumulator_is_rejected(acc):
    naive, fused = gated_mlp_with(acc=acc)
    result = yr.verify(naive, fused)
    assert not result.equivalent and not result
    assert result.reason.startswith("finite-field trial 1")
    assert "reference output 0 (float32[4, 32]) equals no candidate output" in result.reason
    assert "reason='finite-field trial 1" in repr(result)


def test_swapped_weights_are_rejected():
    naive, fused = gated_mlp_with(swap_weights=True)
    result = yr.verify(naive, fused)
    assert not result.equivalent
    assert "the outputs differ" in result.reason


def test_swapped_division_operands_are_rejected():
    naive, right = decode_with()
    assert yr.verify(naive, right).equivalent
    naive, wrong = decode_with(swap_div=True)
    result = yr.verify(naive, wrong)
    assert not result.equivalent
    assert "the outputs differ" in result.reason


def test_a_dropped_normalization_is_rejected():
    naive, _ = ugraph_programs.rms_norm_matmul(4, 64, 32)
    fused = yr.new_kernel_graph()
    X, G, W = (fused.new_input(dims=t.dims, dtype=t.dtype) for t in naive.input_types)
    tb = yr.new_threadblock_graph(grid_dim=(4, 1, 1), forloop_range=4)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bg = tb.new_input(dtensor=G, input_map=(-1, -1, -1), forloop_dim=0)
    bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
    tb.new_output(stensor=tb.forloop_accum(tb.matmul(tb.mul(bx, bg), bw)), output_map=(1, -1, -1))
    fused.mark_output(fused.customized(inputs=[X, G, W], bgraph=tb)[0])
    result = yr.verify(naive, fused)
    assert not result.equivalent
    assert "the outputs differ" in result.reason


def test_outputs_match_up_to_a_permutation():
    def two_outputs(order):
        g = yr.new_kernel_graph()
        X = g.new_input(dims=(4, 8), dtype=yr.float32)
        outputs = [g.exp(X), g.silu(X)]
        for index in order:
            g.mark_output(outputs[index])
        return g

    result = yr.verify(two_outputs([0, 1]), two_outputs([1, 0]))
    assert result.equivalent, result.reason
    assert result.output_permutation == [1, 0]


def test_mismatched_signatures_are_rejected_with_the_types():
    naive, fused = ugraph_programs.gated_mlp(4, 64, 32)
    other, _ = ugraph_programs.gated_mlp(4, 64, 16)
    result = yr.verify(naive, other)
    assert not result.equivalent
    assert result.reason == ("inputs differ: the reference takes (float32[4, 64], "
                             "float32[64, 32], float32[64, 32]), the candidate (float32[4, 64], "
                             "float32[64, 16], float32[64, 16])")
    empty = yr.new_kernel_graph()
    for t in naive.input_types:
        empty.new_input(dims=t.dims, dtype=t.dtype)
    result = yr.verify(naive, empty)
    assert result.reason == "outputs differ: the reference gives (float32[4, 32]), the candidate ()"


def test_verification_leaves_the_graphs_usable():
    naive, fused = ugraph_programs.attention_decode(2, 4, 64, 16, qk_norm=True)
    before = (naive.fingerprint(), fused.fingerprint())
    assert yr.verify(naive, fused).equivalent
    assert (naive.fingerprint(), fused.fingerprint()) == before
    assert yr.verify(fused, naive).equivalent  # either side may be the reference
