"""The cpu backend from Python: thread settings and a graph run against NumPy."""

import ml_dtypes
import numpy as np
import pytest

import yirage as yr


def test_thread_count_can_be_set_and_read_back():
    before = yr.get_num_threads()
    assert before >= 1
    try:
        yr.set_num_threads(3)
        assert yr.get_num_threads() == 3
    finally:
        yr.set_num_threads(before)
    assert yr.get_num_threads() == before
    with pytest.raises(yr.UserError, match="thread count 0 is not valid"):
        yr.set_num_threads(0)


@pytest.mark.parametrize("dtype,npdtype,rtol", [(yr.float32, np.float32, 1e-5),
                                                (yr.bfloat16, ml_dtypes.bfloat16, 2e-2)])
def test_rms_norm_matmul_matches_numpy(dtype, npdtype, rtol):
    g = yr.new_kernel_graph()
    x = g.new_input(dims=(3, 40), dtype=dtype)
    w = g.new_input(dims=(40,), dtype=dtype)
    b = g.new_input(dims=(40, 67), dtype=dtype)
    g.mark_output(g.matmul(g.rms_norm(x, w), b))
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((3, 40)).astype(npdtype)
    ws = rng.standard_normal(40).astype(npdtype)
    bs = rng.standard_normal((40, 67)).astype(npdtype)
    (y,) = g(inputs=[xs, ws, bs], backend="cpu")
    x64, w64, b64 = (a.astype(np.float64) for a in (xs, ws, bs))
    normed = x64 / np.sqrt((x64**2).mean(-1, keepdims=True) + 1e-6) * w64
    if dtype == yr.bfloat16:  # the cpu backend rounds the normalized rows to bf16
        normed = normed.astype(ml_dtypes.bfloat16).astype(np.float64)
    want = normed @ b64
    scale = np.abs(normed) @ np.abs(b64)
    assert np.all(np.abs(y.astype(np.float64) - want) <= rtol * scale + 1e-6)
