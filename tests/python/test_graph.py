"""Building kernel graphs from Python: tensors, shape errors, JSON, fingerprints, text and DOT."""

import json

import ml_dtypes
import numpy as np
import pytest

import yirage as yr


def rmsnorm_matmul_graph(eps=1e-6):
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(8, 1024), dtype=yr.bfloat16)
    G = g.new_input(dims=(1024,), dtype=yr.bfloat16)
    W = g.new_input(dims=(1024, 4096), dtype=yr.bfloat16)
    g.mark_output(g.matmul(g.rms_norm(X, G, eps=eps), W))
    return g


def test_tensor_handles_describe_their_type():
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(8, 1024), dtype=yr.bfloat16)
    assert isinstance(X, yr.DTensor)
    assert X.dims == (8, 1024)
    assert X.dtype == yr.bfloat16
    assert X.num_dims == 2
    assert X.dim(0) == 8 and X.dim(-1) == 1024
    assert "bfloat16[8, 1024]" in repr(X)
    with pytest.raises(yr.UserError, match=r"dim 2 is out of range for bfloat16\[8, 1024\]"):
        X.dim(2)


def test_inferred_shapes():
    g = yr.new_kernel_graph()
    A = g.new_input(dims=(2, 1, 5, 7), dtype=yr.float32)
    B = g.new_input(dims=(3, 7, 4), dtype=yr.float32)
    assert g.matmul(A, B).dims == (2, 3, 5, 4)
    assert g.sum(A, 2).dims == (2, 1, 7)
    assert g.mean(A, -1, keepdim=True).dims == (2, 1, 5, 1)
    assert g.reshape(B, (-1, 4)).dims == (21, 4)
    assert g.transpose(B, 0, 2).dims == (4, 7, 3)
    pieces = g.split(B, [1, 2], 0)
    assert [p.dims for p in pieces] == [(1, 7, 4), (2, 7, 4)]
    assert [p.output for p in pieces] == [0, 1]
    assert [c.dims for c in g.chunk(B, 2, 2)] == [(3, 7, 2), (3, 7, 2)]
    assert g.concat(pieces, 0).dims == (3, 7, 4)


def test_new_input_accepts_dtype_names_and_numpy_dtypes():
    g = yr.new_kernel_graph()
    assert g.new_input(dims=(2,), dtype="bfloat16").dtype == yr.bfloat16
    assert g.new_input(dims=(2,), dtype=np.float32).dtype == yr.float32
    assert g.new_input(dims=(2,), dtype=ml_dtypes.bfloat16).dtype == yr.bfloat16
    assert g.new_input(dims=(2,), dtype=np.dtype("int64")).dtype == yr.int64
    assert g.new_input(dims=(2,)).dtype == yr.float16  # Mirage's default


def test_unknown_dtypes_list_the_known_ones():
    g = yr.new_kernel_graph()
    with pytest.raises(yr.UserError, match="unknown dtype 'float8'; expected one of float32, "
                                           "float16, bfloat16, int32, int64"):
        g.new_input(dims=(2,), dtype="float8")
    with pytest.raises(yr.UserError, match="unknown dtype 'float64'"):
        g.new_input(dims=(2,), dtype=np.float64)
    with pytest.raises(yr.UserError, match="is not a dtype"):
        g.new_input(dims=(2,), dtype=object())


def test_user_error_is_a_value_error_with_the_shapes():
    g = yr.new_kernel_graph()
    A = g.new_input(dims=(8, 1024), dtype=yr.float16)
    B = g.new_input(dims=(512, 4096), dtype=yr.float16)
    with pytest.raises(ValueError) as raised:
        g.matmul(A, B)
    assert isinstance(raised.value, yr.UserError)
    message = str(raised.value)
    assert "matmul: inner dimensions differ" in message
    assert "float16[8, 1024]" in message and "float16[512, 4096]" in message
    assert "(1024 vs 512)" in message


def test_build_errors_reach_python_intact():
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(4, 6), dtype=yr.float32)
    I = g.new_input(dims=(4,), dtype=yr.int32)
    with pytest.raises(yr.UserError, match=r"add: shapes \[4, 6\] and \[5\] do not broadcast"):
        g.add(X, g.new_input(dims=(5,), dtype=yr.float32))
    with pytest.raises(yr.UserError, match=r"exp: input is int32\[4\]; expected float32"):
        g.exp(I)
    with pytest.raises(yr.UserError, match=r"split: sizes \[2, 3\] add up to 5"):
        g.split(X, [2, 3], 1)
    with pytest.raises(yr.UserError, match=r"rms_norm: weight float32\[4\] does not match"):
        g.rms_norm(X, g.new_input(dims=(4,), dtype=yr.float32))
    with pytest.raises(yr.UserError, match="sum: dim 2 is out of range"):
        g.sum(X, 2)


def test_tensors_of_another_graph_are_refused():
    g, other = yr.new_kernel_graph(), yr.new_kernel_graph()
    A = g.new_input(dims=(4, 4), dtype=yr.float32)
    B = other.new_input(dims=(4, 4), dtype=yr.float32)
    with pytest.raises(yr.UserError, match=r"matmul: b \(float32\[4, 4\]\) belongs to another "
                                           r"kernel graph; expected a tensor created by this "
                                           r"graph"):
        g.matmul(A, B)
    with pytest.raises(yr.UserError, match="belongs to another kernel graph"):
        g.concat([A, B], 0)
    with pytest.raises(yr.UserError, match="mark_output: tensor .* belongs to another"):
        g.mark_output(B)


def test_tensors_keep_their_graph_alive():
    def make():
        g = yr.new_kernel_graph()
        return g.exp(g.new_input(dims=(3,), dtype=yr.float32))

    Y = make()
    assert Y.dims == (3,)  # the graph behind the handle is still there


def test_graph_inputs_outputs_and_types():
    g = rmsnorm_matmul_graph()
    assert g.num_inputs == 3
    assert g.num_outputs == 1
    assert g.num_nodes == 5
    assert [t.dims for t in g.input_types] == [(8, 1024), (1024,), (1024, 4096)]
    assert all(t.dtype == yr.bfloat16 for t in g.input_types)
    assert g.output_types[0].dims == (8, 4096)
    assert repr(g.output_types[0]) == "bfloat16[8, 4096]"
    assert [t.dims for t in g.inputs] == [(8, 1024), (1024,), (1024, 4096)]
    assert g.outputs[0].dims == (8, 4096)
    assert g.outputs[0] == g.outputs[0] and len({g.outputs[0], g.outputs[0]}) == 1
    assert repr(g) == "<KernelGraph: 3 inputs, 1 outputs, 5 nodes>"


def test_json_round_trip_is_exact():
    g = rmsnorm_matmul_graph()
    text = g.to_json()
    document = json.loads(text)
    assert isinstance(document, dict) and "version" in document
    loaded = yr.graph_from_json(text)
    assert isinstance(loaded, yr.KernelGraph)
    assert loaded.to_json() == text
    assert loaded.fingerprint() == g.fingerprint()
    assert loaded.input_types == g.input_types and loaded.output_types == g.output_types
    assert g.to_json(indent=-1).count("\n") == 0
    assert yr.graph_from_json(g.to_json(indent=-1)).to_json() == text


def test_json_of_a_multi_output_graph_runs_the_same():
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(2, 6), dtype=yr.float32)
    a, b = g.split(X, [4, 2], 1)
    g.mark_output(g.silu(b))
    g.mark_output(a)
    loaded = yr.graph_from_json(g.to_json())
    x = np.arange(12, dtype=np.float32).reshape(2, 6) / 7
    for want, got in zip(g(inputs=[x]), loaded(inputs=[x])):
        np.testing.assert_array_equal(want, got)


def test_bad_json_is_a_user_error():
    with pytest.raises(yr.UserError):
        yr.graph_from_json("{not json")
    with pytest.raises(yr.UserError):
        yr.graph_from_json(rmsnorm_matmul_graph().to_json()[:40])
    g = rmsnorm_matmul_graph()
    with pytest.raises(yr.UserError, match="fills an empty graph"):
        g._load_json(g.to_json())


def test_fingerprint_ignores_build_order_but_not_structure():
    def build(order):
        g = yr.new_kernel_graph()
        A = g.new_input(dims=(4, 4), dtype=yr.float32)
        B = g.new_input(dims=(4, 4), dtype=yr.float32)
        made = {}
        for name in order:  # exp(A) and relu(B) are independent of each other
            made[name] = g.exp(A) if name == "exp" else g.relu(B)
        g.mark_output(g.add(made["exp"], made["relu"]))
        return g

    first, second = build(["exp", "relu"]), build(["relu", "exp"])
    fingerprint = first.fingerprint()
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert second.fingerprint() == fingerprint
    assert rmsnorm_matmul_graph(1e-6).fingerprint() == rmsnorm_matmul_graph(1e-6).fingerprint()
    assert rmsnorm_matmul_graph(1e-6).fingerprint() != rmsnorm_matmul_graph(1e-5).fingerprint()


def test_text_and_dot():
    g = rmsnorm_matmul_graph()
    text = str(g)
    assert "rms_norm(" in text and "matmul(" in text
    assert "bfloat16[8, 4096]" in text
    dot = g.to_dot()
    assert dot.lstrip().startswith("digraph")
    assert "rms_norm" in dot and "matmul" in dot
    assert dot.count("->") >= 4  # X, G into rms_norm; it and W into matmul


def test_op_table_is_visible():
    names = yr.op_names()
    assert names[:2] == ["input", "matmul"]
    assert len(names) == len(set(names))
    info = yr.op_info("rms_norm")
    assert (info.name, info.category, info.arity) == ("rms_norm", "structural", 2)
    assert info.num_outputs == 1
    assert info.attributes == [("eps", "float")]
    assert yr.op_info("mul_scalar").category == "unary"
    assert yr.op_info("pow").category == "binary"
    assert yr.op_info("mean").attributes == [("dim", "int"), ("keepdim", "bool")]
    assert yr.op_info("split").num_outputs == -1
    with pytest.raises(yr.UserError, match="unknown op 'conv2d'"):
        yr.op_info("conv2d")
