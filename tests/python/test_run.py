"""Running graphs from Python: inputs, outputs, memory, errors and backends."""

import concurrent.futures
import ctypes
import gc
import re

import ml_dtypes
import numpy as np
import pytest

import yirage as yr

BF16 = ml_dtypes.bfloat16


def scale_graph(dims=(4, 6), dtype=yr.float32):
    """y = 2 * x + b, one output."""
    g = yr.new_kernel_graph()
    X = g.new_input(dims=dims, dtype=dtype)
    B = g.new_input(dims=dims[-1:], dtype=dtype)
    g.mark_output(g.add(g.mul_scalar(X, 2.0), B))
    return g


def values(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_numpy_in_numpy_out():
    x, b = values((4, 6)), values((6,), seed=1)
    outputs = scale_graph()(inputs=[x, b], backend="reference")
    assert isinstance(outputs, list) and len(outputs) == 1
    (y,) = outputs
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (4, 6)
    np.testing.assert_allclose(y, 2 * x.astype(np.float64) + b, rtol=2**-23)


def test_bfloat16_in_bfloat16_out():
    x, b = values((4, 6), BF16), values((6,), BF16, seed=1)
    (y,) = scale_graph(dtype=yr.bfloat16)(inputs=(x, b))
    assert y.dtype == BF16
    np.testing.assert_allclose(y.astype(np.float64),
                               2 * x.astype(np.float64) + b.astype(np.float64), rtol=2**-7)


def test_outputs_view_cpp_memory_that_outlives_the_graph():
    g = scale_graph(dtype=yr.bfloat16)
    x, b = values((4, 6), BF16), values((6,), BF16, seed=1)
    (y,) = g(inputs=[x, b])
    expected = y.copy()
    assert not y.flags.owndata
    # Walk the base chain: NumPy views down to an object that is not a NumPy array, the owner
    # of the C++ storage.
    chain, owner = [], y
    while isinstance(owner, np.ndarray):
        assert not owner.flags.owndata
        chain.append(owner)
        owner = owner.base
    assert owner is not None
    assert chain[-1].dtype == np.uint16  # the bfloat16 bits as they came out of C++
    del g, x, b, chain, owner
    gc.collect()
    churn = [np.full((64, 64), 7.0) for _ in range(100)]  # reuse freed memory if any was freed
    np.testing.assert_array_equal(y.view(np.uint16), expected.view(np.uint16))
    del churn


def test_outputs_are_writable_and_independent():
    g = scale_graph()
    x, b = values((4, 6)), values((6,), seed=1)
    (y1,) = g(inputs=[x, b])
    (y2,) = g(inputs=[x, b])
    y1[...] = 0
    assert np.count_nonzero(y2) == y2.size


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16])
def test_non_contiguous_inputs_are_read_through_their_strides(dtype):
    base = values((6, 4), dtype)
    x = base.T  # (4, 6), Fortran-ordered view
    b = values((12,), dtype, seed=1)[::2]  # stride 2
    assert not x.flags.c_contiguous and not b.flags.c_contiguous
    dt = {np.float32: yr.float32, np.float16: yr.float16, BF16: yr.bfloat16}[dtype]
    (y,) = scale_graph(dtype=dt)(inputs=[x, b])
    want = 2 * x.astype(np.float64) + b.astype(np.float64)
    rtol = {np.float32: 2**-23, np.float16: 2**-10, BF16: 2**-7}[dtype]
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=rtol)


def test_sliced_reversed_broadcast_and_readonly_inputs():
    big = values((9, 13))
    x = big[1::2, 3:9]  # offset and strides in both dims
    b = values((6,), seed=1)[::-1]  # negative stride
    (y,) = scale_graph()(inputs=[x, b])
    np.testing.assert_allclose(y, 2 * x.astype(np.float64) + b, rtol=2**-23)

    row = values((6,), seed=2)
    x = np.broadcast_to(row, (4, 6))  # zero stride, read-only
    assert not x.flags.writeable
    (y,) = scale_graph()(inputs=[x, row])
    np.testing.assert_allclose(y, np.broadcast_to(3 * row.astype(np.float64), (4, 6)),
                               rtol=2**-23)


def test_any_dlpack_producer_is_an_input():
    class Producer:
        """Exposes only the DLPack protocol of the array it wraps."""

        def __init__(self, array):
            self.array = array

        def __dlpack__(self, **kwargs):
            return self.array.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.array.__dlpack_device__()

    x, b = values((4, 6)), values((6,), seed=1)
    (y,) = scale_graph()(inputs=[Producer(x), Producer(b)])
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y, 2 * x.astype(np.float64) + b, rtol=2**-23)


def dlpack_dtype(producer):
    """(code, bits, lanes) of the DLTensor behind `producer.__dlpack__()`."""

    class DLTensor(ctypes.Structure):
        _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32),
                    ("device_id", ctypes.c_int32), ("ndim", ctypes.c_int32),
                    ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]

    capsule = producer.__dlpack__()
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    tensor = DLTensor.from_address(get_pointer(capsule, b"dltensor"))
    return tensor.code, tensor.bits, tensor.lanes


def test_dlpack_outputs_carry_every_dtype():
    # What torch.from_dlpack receives: DLPack objects with the true dtype, bfloat16 included.
    g = scale_graph()
    x, b = values((4, 6)), values((6,), seed=1)
    (out,) = yr._core._run(g, [x, b], [None, None], "reference", True)
    assert hasattr(out, "__dlpack__") and out.__dlpack_device__() == (1, 0)
    np.testing.assert_allclose(np.from_dlpack(out), 2 * x.astype(np.float64) + b, rtol=2**-23)

    gb = scale_graph(dtype=yr.bfloat16)
    xb, bb = values((4, 6), BF16), values((6,), BF16, seed=1)
    arrays = [xb.view(np.uint16), bb.view(np.uint16)]
    (out,) = yr._core._run(gb, arrays, [yr.bfloat16, yr.bfloat16], "reference", True)
    assert dlpack_dtype(out) == (4, 16, 1)  # kDLBfloat, 16 bits, 1 lane: not uint16
    assert dlpack_dtype(yr._core._run(g, [x, b], [None, None], "reference", True)[0]) == (2, 32, 1)


def test_wrong_input_count():
    with pytest.raises(yr.UserError, match="the graph takes 2 inputs; got 1"):
        scale_graph()(inputs=[values((4, 6))])


def test_wrong_input_dtype():
    g = scale_graph(dtype=yr.bfloat16)
    with pytest.raises(ValueError, match=re.escape("input 0 is float32[4, 6]; expected "
                                                   "bfloat16[4, 6]")):
        g(inputs=[values((4, 6)), values((6,), BF16)])


def test_wrong_input_shape():
    with pytest.raises(yr.UserError, match=re.escape("input 1 is float32[5]; expected "
                                                     "float32[6]")):
        scale_graph()(inputs=[values((4, 6)), values((5,))])


def test_unsupported_array_dtypes():
    with pytest.raises(yr.UserError, match="input 0 has dtype float64, which yirage does not "
                                           "support; expected one of float32, float16, bfloat16, "
                                           "int32, int64"):
        scale_graph()(inputs=[np.zeros((4, 6)), values((6,))])
    with pytest.raises(yr.UserError, match="input 1 has dtype bool"):
        scale_graph()(inputs=[values((4, 6)), np.zeros(6, dtype=bool)])
    with pytest.raises(yr.UserError, match="input 0 has dtype float32 and cannot be read as "
                                           "bfloat16"):
        yr._core._run(scale_graph(), [values((4, 6)), values((6,))], [yr.bfloat16, None],
                      "reference", False)


def test_internal_errors_arrive_as_internal_error():
    # The package never calls _run with mismatched lists; calling it so breaks an invariant.
    with pytest.raises(RuntimeError) as raised:
        yr._core._run(scale_graph(), [values((4, 6)), values((6,))], [None], "reference", False)
    assert isinstance(raised.value, yr.InternalError)
    message = str(raised.value)
    assert re.match(r"internal error at backend_bindings\.cpp:\d+", message)
    assert "declared.size() == inputs.size()" in message
    assert message.endswith("1 declared dtypes for 2 inputs")


def test_inputs_that_are_not_arrays():
    with pytest.raises(yr.UserError, match="input 1 is a list; expected a NumPy array or a "
                                           "DLPack tensor"):
        scale_graph()(inputs=[values((4, 6)), [0.0] * 6])
    with pytest.raises(yr.UserError, match="inputs is a ndarray; expected a list"):
        scale_graph()(inputs=values((4, 6)))


def test_graph_without_outputs():
    g = yr.new_kernel_graph()
    g.new_input(dims=(2,), dtype=yr.float32)
    with pytest.raises(yr.UserError, match="the graph has no outputs"):
        g(inputs=[values((2,))])


def test_run_time_errors_from_the_backend():
    g = yr.new_kernel_graph()
    ids = g.new_input(dims=(3,), dtype=yr.int32)
    table = g.new_input(dims=(5, 2), dtype=yr.float32)
    g.mark_output(g.embedding(ids, table))
    with pytest.raises(yr.UserError, match="5"):
        g(inputs=[np.array([0, 5, 1], dtype=np.int32), values((5, 2))])


def test_backends_are_listed_with_reasons():
    backends = yr.get_available_backends()
    names = [b.name for b in backends]
    assert names[0] == "reference" and {"mps", "nki"} <= set(names)
    assert len(names) == len(set(names))
    reference = backends[0]
    assert reference.available and reference.reason == "" and reference.description
    assert reference.device
    for backend in backends:
        assert isinstance(backend, yr.BackendInfo)
        assert backend.available or backend.reason, backend.name
    assert "available=False" in repr(backends[names.index("mps")])


def test_unknown_backend_lists_the_known_ones():
    names = [b.name for b in yr.get_available_backends()]
    with pytest.raises(yr.UserError, match="unknown backend 'tpu'; known backends: " +
                                           ", ".join(names)):
        scale_graph()(inputs=[values((4, 6)), values((6,))], backend="tpu")


def test_unavailable_backend_gives_its_reason():
    mps = next(b for b in yr.get_available_backends() if b.name == "mps")
    assert not mps.available
    with pytest.raises(yr.UserError, match=re.escape(f"backend 'mps' is not available: "
                                                     f"{mps.reason}")):
        scale_graph()(inputs=[values((4, 6)), values((6,))], backend="mps")


def test_concurrent_runs_from_threads():
    g = scale_graph((64, 32))
    inputs = [[values((64, 32), seed=s), values((32,), seed=s + 100)] for s in range(8)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda pair: g(inputs=pair)[0], inputs))
    for (x, b), y in zip(inputs, results):
        np.testing.assert_allclose(y, 2 * x.astype(np.float64) + b, rtol=2**-23)


def test_scalar_inputs_and_outputs():
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(5,), dtype=yr.bfloat16)
    S = g.new_input(dims=(), dtype=yr.bfloat16)
    g.mark_output(g.add(g.sum(X, 0), S))
    (y,) = g(inputs=[np.arange(5).astype(BF16), np.array(0.5, dtype=BF16)])
    assert y.shape == () and y.dtype == BF16 and float(y) == 10.5
