"""DLPack out of yirage without a GPU: NumPy arrays in, DLPack objects out (np.from_dlpack,
torch.from_dlpack), every dtype as itself, the memory shared; and what the GPU paths say here.

GPU command (with PyTorch): PYTHONPATH=build-gpu/python python3 -m pytest tests/python/test_dlpack.py
tests/python/test_cuda_dlpack.py
"""

import numpy as np
import pytest

import ml_dtypes
import yirage as yr

BF16 = ml_dtypes.bfloat16


def scale_graph(dtype=yr.float32):
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(4, 6), dtype=dtype)
    B = g.new_input(dims=(6,), dtype=dtype)
    g.mark_output(g.add(g.mul_scalar(X, 2.0), B))
    return g


def values(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(dtype)


def test_numpy_in_dlpack_out_shares_the_result_memory():
    x, b = values((4, 6)), values((6,), seed=1)
    (out,) = scale_graph()(inputs=[x, b], dlpack=True)
    assert not isinstance(out, np.ndarray)
    assert hasattr(out, "__dlpack__") and out.__dlpack_device__() == (1, 0)
    first, second = np.from_dlpack(out), np.from_dlpack(out)
    assert first.__array_interface__["data"][0] == second.__array_interface__["data"][0]
    np.testing.assert_allclose(first, 2 * x.astype(np.float64) + b, rtol=2**-23)


def test_numpy_outputs_stay_numpy_and_export_dlpack_themselves():
    x, b = values((4, 6)), values((6,), seed=1)
    (out,) = scale_graph()(inputs=[x, b])
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(np.from_dlpack(out), out)


def test_bfloat16_leaves_as_bfloat16_through_dlpack():
    x, b = values((4, 6), BF16), values((6,), BF16, seed=1)
    (out,) = scale_graph(yr.bfloat16)(inputs=[x, b], dlpack=True)
    want = 2 * x.astype(np.float64) + b.astype(np.float64)
    torch = pytest.importorskip("torch")
    tensor = torch.from_dlpack(out)
    assert tensor.dtype == torch.bfloat16 and tuple(tensor.shape) == (4, 6)
    np.testing.assert_allclose(tensor.double().numpy(), want, rtol=2**-7, atol=2**-7)


def test_an_optimized_program_takes_dlpack_too():
    g = scale_graph()
    opt = g.superoptimize(backend="reference", time_budget=5, cache=False, state_budget=10)
    x, b = values((4, 6)), values((6,), seed=1)
    (out,) = opt(inputs=[x, b], dlpack=True)
    np.testing.assert_allclose(np.from_dlpack(out), 2 * x.astype(np.float64) + b, rtol=2**-23)


def backend_info(name):
    return next(b for b in yr.get_available_backends() if b.name == name)


@pytest.mark.parametrize("name", ["cuda", "cudnn"])
def test_gpu_backends_are_listed_with_their_reason(name):
    info = backend_info(name)
    assert info.description
    if info.available:
        assert info.device and info.reason == ""
    else:
        assert info.reason
        with pytest.raises(yr.UserError, match=f"backend '{name}' is not available"):
            scale_graph()(inputs=[values((4, 6)), values((6,))], backend=name)


def test_superoptimize_for_an_unavailable_gpu_says_why(tmp_path):
    info = backend_info("cuda")
    if info.available:
        pytest.skip("a GPU is here: tests/python/test_cuda_dlpack.py searches on it")
    with pytest.raises(yr.UserError, match="backend 'cuda' is not available"):
        scale_graph().superoptimize(backend="cuda", time_budget=1, cache_dir=tmp_path)
