"""The CUDA backend from Python: availability everywhere; PyTorch CUDA tensors in and out (through
DLPack, no host copies) where a GPU is present."""

import pytest

import yirage as yr


def cuda_info():
    return next(b for b in yr.get_available_backends() if b.name == "cuda")


def exp_graph():
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(4,), dtype=yr.float32)
    g.mark_output(g.exp(X))
    return g


def test_cuda_backend_is_listed_with_a_reason_when_unavailable():
    info = cuda_info()
    if info.available:
        assert info.device and info.reason == ""
        return
    assert info.reason, "an unavailable backend says why"
    with pytest.raises(yr.UserError, match="not available"):
        exp_graph()(inputs=[__import__("numpy").ones(4, dtype="float32")], backend="cuda")


try:
    import torch
except ImportError:  # the GPU tests below need PyTorch
    torch = None
needs_gpu = pytest.mark.skipif(
    torch is None or not (torch.cuda.is_available() and cuda_info().available),
    reason="needs PyTorch, a CUDA device and the CUDA backend")


def rmsnorm_matmul(dtype, m=4, k=256, n=128):
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(m, k), dtype=dtype)
    G = g.new_input(dims=(k,), dtype=dtype)
    W = g.new_input(dims=(k, n), dtype=dtype)
    g.mark_output(g.matmul(g.rms_norm(X, G), W))
    return g


@needs_gpu
@pytest.mark.parametrize("dtype,torch_dtype_name,rtol", [(yr.float32, "float32", 1e-4),
                                                         (yr.bfloat16, "bfloat16", 2e-2)])
def test_cuda_tensors_in_cuda_tensors_out(dtype, torch_dtype_name, rtol):
    torch_dtype = getattr(torch, torch_dtype_name)
    gen = torch.Generator().manual_seed(0)
    host = [torch.randn(4, 256, generator=gen), torch.randn(256, generator=gen),
            torch.randn(256, 128, generator=gen) / 16]
    host = [t.to(torch_dtype) for t in host]
    g = rmsnorm_matmul(dtype)
    (want,) = g(inputs=host, backend="reference")
    (got,) = g(inputs=[t.cuda() for t in host], backend="cuda")
    assert isinstance(got, torch.Tensor) and got.device.type == "cuda"
    assert got.dtype == torch_dtype and tuple(got.shape) == (4, 128)
    torch.testing.assert_close(got.cpu().double(), want.double(), rtol=rtol,
                               atol=rtol * want.double().abs().max().item())


@needs_gpu
def test_host_tensors_on_cuda_come_back_on_the_host():
    x = torch.linspace(-1, 1, 4)
    (y,) = exp_graph()(inputs=[x], backend="cuda")
    assert y.device.type == "cpu"
    torch.testing.assert_close(y, torch.exp(x), rtol=1e-6, atol=1e-6)
