"""Every op of the table, run on the reference backend, against a NumPy float64 version.

The reference backend computes in float64 and rounds each output once, so a result may differ
from the float64 NumPy value of the same (already rounded) inputs by one rounding of the output
dtype at most. The tolerances below are one unit in the last place, relative.
"""

import dataclasses
import math
from typing import Callable, List

import ml_dtypes
import numpy as np
import pytest

import yirage as yr

FLOATS = [yr.float32, yr.float16, yr.bfloat16]
INTS = [yr.int32, yr.int64]
# One ulp relative, and the smallest subnormal step as absolute floor.
RTOL = {yr.float32: 2.0**-23, yr.float16: 2.0**-10, yr.bfloat16: 2.0**-7, yr.int32: 0, yr.int64: 0}
ATOL = {yr.float32: 1e-40, yr.float16: 2.0**-24, yr.bfloat16: 1e-38, yr.int32: 0, yr.int64: 0}
# Ops the graph builds without a method of their own.
NO_BUILDER_METHOD = {"input", "customized"}


@dataclasses.dataclass
class Case:
    """One op application: inputs (float64 values are cast to the dtype under test, integer
    arrays stay as they are), how to build it, and the NumPy float64 result."""

    inputs: List[np.ndarray]
    build: Callable
    expect: Callable


CASES = {}  # op name -> [(case id, case factory, dtypes)]


def case(op, dtypes=FLOATS, name=None):
    def register(factory):
        CASES.setdefault(op, []).append((name or factory.__name__, factory, dtypes))
        return factory

    return register


def cast(values, dtype):
    if dtype in INTS:
        return np.round(values * 50).astype(yr.numpy_dtype(dtype))
    return values.astype(yr.numpy_dtype(dtype))


def run(case_, dtype):
    arrays = [cast(x, dtype) if x.dtype == np.float64 else x for x in case_.inputs]
    g = yr.new_kernel_graph()
    tensors = [g.new_input(dims=a.shape, dtype=a.dtype) for a in arrays]
    built = case_.build(g, *tensors)
    built = built if isinstance(built, list) else [built]
    for tensor in built:
        g.mark_output(tensor)
    results = g(inputs=arrays, backend="reference")
    expected = case_.expect(*[a.astype(np.float64) for a in arrays])
    expected = expected if isinstance(expected, list) else [expected]
    assert len(results) == len(expected) == len(built)
    return results, expected, built


def check(case_, dtype):
    results, expected, built = run(case_, dtype)
    for result, want, tensor in zip(results, expected, built):
        assert isinstance(result, np.ndarray)
        assert result.shape == want.shape == tensor.dims
        assert result.dtype == yr.numpy_dtype(tensor.dtype)
        np.testing.assert_allclose(result.astype(np.float64), want, rtol=RTOL[dtype],
                                   atol=ATOL[dtype])


rng = np.random.default_rng(20240501)


def normal(*shape):
    return np.asarray(rng.standard_normal(shape))


def positive(*shape):
    return np.asarray(rng.uniform(0.25, 4.0, shape))


# Element-wise unary ops: NumPy formula and input domain.
erf = np.vectorize(math.erf)
UNARY = {
    "exp": (np.exp, normal),
    "silu": (lambda x: x / (1.0 + np.exp(-x)), normal),
    "gelu": (lambda x: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0))), normal),
    "relu": (lambda x: np.maximum(x, 0.0), normal),
    "sigmoid": (lambda x: 1.0 / (1.0 + np.exp(-x)), normal),
    "sqrt": (np.sqrt, positive),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), positive),
    "square": (np.square, normal),
    "neg": (np.negative, normal),
}
SCALAR_UNARY = {
    "mul_scalar": (lambda x, s: x * s, -0.375),
    "add_scalar": (lambda x, s: x + s, 1.625),
}
BINARY = {
    "add": (np.add, normal),
    "sub": (np.subtract, normal),
    "mul": (np.multiply, normal),
    "div": (np.divide, positive),
    "pow": (np.power, positive),
}
REDUCE = {
    "sum": np.sum,
    "max": np.max,
    "mean": np.mean,
}

for _op, (_fn, _domain) in UNARY.items():
    case(_op, name="elementwise")(
        lambda op=_op, fn=_fn, domain=_domain: Case(
            [domain(3, 17)], lambda g, x: getattr(g, op)(x), fn))

for _op, (_fn, _scalar) in SCALAR_UNARY.items():
    case(_op, name="elementwise")(
        lambda op=_op, fn=_fn, s=_scalar: Case(
            [normal(4, 9)], lambda g, x: getattr(g, op)(x, s), lambda x: fn(x, s)))

for _op, (_fn, _domain) in BINARY.items():
    for _name, (_a, _b) in {
        "same_shape": ((3, 8), (3, 8)),
        "broadcast_row": ((5, 6), (6,)),
        "broadcast_both": ((4, 1, 5), (3, 1)),
        "broadcast_rank0": ((2, 3), ()),
    }.items():
        case(_op, name=_name)(
            lambda op=_op, fn=_fn, domain=_domain, a=_a, b=_b: Case(
                [domain(*a), domain(*b)], lambda g, x, y: getattr(g, op)(x, y), fn))

for _op, _fn in REDUCE.items():
    for _dim in (0, 1, -1):
        for _keepdim in (False, True):
            case(_op, name=f"dim{_dim}_keepdim{_keepdim}")(
                lambda op=_op, fn=_fn, dim=_dim, keepdim=_keepdim: Case(
                    [normal(3, 4, 5)],
                    lambda g, x: getattr(g, op)(x, dim, keepdim=keepdim),
                    lambda x: fn(x, axis=dim, keepdims=keepdim)))


@case("matmul")
def matmul_2d():
    return Case([normal(5, 7), normal(7, 3)], lambda g, a, b: g.matmul(a, b), np.matmul)


@case("matmul")
def matmul_batch_broadcast():
    return Case([normal(2, 1, 5, 7), normal(3, 7, 4)], lambda g, a, b: g.matmul(a, b), np.matmul)


def rms_norm_numpy(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


@case("rms_norm")
def rms_norm_2d():
    return Case([normal(4, 16), normal(16)], lambda g, x, w: g.rms_norm(x, w),
                lambda x, w: rms_norm_numpy(x, w, 1e-6))


@case("rms_norm")
def rms_norm_3d_large_eps():
    return Case([normal(2, 3, 8), normal(8)], lambda g, x, w: g.rms_norm(x, w, eps=0.5),
                lambda x, w: rms_norm_numpy(x, w, 0.5))


def softmax_numpy(x, dim):
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


@case("softmax")
def softmax_last():
    return Case([normal(3, 10)], lambda g, x: g.softmax(x), lambda x: softmax_numpy(x, -1))


@case("softmax")
def softmax_first():
    return Case([normal(4, 2, 3) * 3], lambda g, x: g.softmax(x, dim=0),
                lambda x: softmax_numpy(x, 0))


@case("concat", dtypes=FLOATS + INTS)
def concat_three():
    return Case([normal(2, 3), normal(2, 1), normal(2, 4)],
                lambda g, a, b, c: g.concat([a, b, c], 1),
                lambda a, b, c: np.concatenate([a, b, c], axis=1))


@case("split", dtypes=FLOATS + INTS)
def split_three():
    return Case([normal(2, 6, 3)], lambda g, x: g.split(x, [2, 3, 1], 1),
                lambda x: np.split(x, [2, 5], axis=1))


@case("split", dtypes=FLOATS + INTS)
def chunk_equal():
    return Case([normal(6, 4)], lambda g, x: g.chunk(x, 3, 0),
                lambda x: np.split(x, 3, axis=0))


@case("reshape", dtypes=FLOATS + INTS)
def reshape_inferred():
    return Case([normal(2, 3, 4)], lambda g, x: g.reshape(x, (4, -1)),
                lambda x: x.reshape(4, 6))


@case("transpose", dtypes=FLOATS + INTS)
def transpose_outer():
    return Case([normal(2, 3, 4)], lambda g, x: g.transpose(x, 0, 2),
                lambda x: np.swapaxes(x, 0, 2))


@case("transpose", dtypes=FLOATS + INTS)
def transpose_negative_dims():
    return Case([normal(5, 3)], lambda g, x: g.transpose(x, -1, -2), lambda x: x.T)


@case("embedding")
def embedding_int32_ids():
    ids = rng.integers(0, 11, (2, 3)).astype(np.int32)
    return Case([ids, normal(11, 5)], lambda g, i, t: g.embedding(i, t),
                lambda i, t: t[i.astype(np.int64)])


@case("embedding")
def embedding_int64_ids():
    ids = rng.integers(0, 7, (4,)).astype(np.int64)
    return Case([ids, normal(7, 3)], lambda g, i, t: g.embedding(i, t),
                lambda i, t: t[i.astype(np.int64)])


def rope_numpy(x, positions, theta):
    """NeoX / Hugging Face rotary embedding: the two halves of the last dim rotate together."""
    d = x.shape[-1]
    inv_freq = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    angles = positions.reshape(positions.shape + (1,) * (x.ndim - positions.ndim - 1) + (1,))
    angles = angles * inv_freq
    cos = np.concatenate([np.cos(angles)] * 2, axis=-1)
    sin = np.concatenate([np.sin(angles)] * 2, axis=-1)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    rotated = np.concatenate([-x2, x1], axis=-1)
    return x * cos + rotated * sin


@case("rope")
def rope_per_token_heads():
    positions = np.array([0, 1, 7, 300], dtype=np.int32)
    return Case([normal(4, 2, 8), positions], lambda g, x, p: g.rope(x, p),
                lambda x, p: rope_numpy(x, p, 10000.0))


@case("rope")
def rope_batch_qwen3_theta():
    positions = rng.integers(0, 4096, (2, 3)).astype(np.int64)
    return Case([normal(2, 3, 16), positions], lambda g, x, p: g.rope(x, p, theta=1000000.0),
                lambda x, p: rope_numpy(x, p, 1000000.0))


def all_cases():
    return [pytest.param(factory, dtype, id=f"{op}-{name}-{dtype.name}")
            for op, entries in sorted(CASES.items())
            for name, factory, dtypes in entries
            for dtype in dtypes]


@pytest.mark.parametrize("factory,dtype", all_cases())
def test_op_matches_numpy(factory, dtype):
    check(factory(), dtype)


def test_every_op_has_a_numpy_check():
    names = set(yr.op_names())
    assert NO_BUILDER_METHOD <= names
    graph_ops = names - NO_BUILDER_METHOD
    assert sorted(graph_ops - set(CASES)) == []
    assert sorted(set(CASES) - names) == []
    for op in graph_ops:
        assert callable(getattr(yr.KernelGraph, op, None)), f"KernelGraph has no method {op}"


def test_reduction_is_mirage_sum_keeping_dims():
    x = normal(3, 4, 5).astype(np.float32)
    g = yr.new_kernel_graph()
    X = g.new_input(dims=x.shape, dtype=yr.float32)
    Y = g.reduction(X, 1)
    assert Y.dims == (3, 1, 5)
    g.mark_output(Y)
    (y,) = g(inputs=[x])
    np.testing.assert_allclose(y, x.astype(np.float64).sum(axis=1, keepdims=True),
                               rtol=RTOL[yr.float32])


def test_chained_ops_stay_in_float64_until_the_output():
    # exp(x) * 2 then sum: the reference rounds only the final output, so bf16 inputs give a
    # result within one bf16 rounding of the float64 chain.
    x = normal(6, 32).astype(ml_dtypes.bfloat16)
    g = yr.new_kernel_graph()
    X = g.new_input(dims=x.shape, dtype=yr.bfloat16)
    g.mark_output(g.sum(g.mul_scalar(g.exp(X), 2.0), -1))
    (y,) = g(inputs=[x])
    want = (np.exp(x.astype(np.float64)) * 2.0).sum(axis=-1)
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=RTOL[yr.bfloat16])
