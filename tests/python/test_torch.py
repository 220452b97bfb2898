"""PyTorch tensors in, PyTorch tensors out (skipped where torch is not installed)."""

import pytest

import yirage as yr

torch = pytest.importorskip("torch")


def rmsnorm_matmul(dtype, m=4, k=64, n=32):
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(m, k), dtype=dtype)
    G = g.new_input(dims=(k,), dtype=dtype)
    W = g.new_input(dims=(k, n), dtype=dtype)
    g.mark_output(g.matmul(g.rms_norm(X, G), W))
    return g


def expected(x, gamma, w):
    x, gamma, w = x.double(), gamma.double(), w.double()
    return (x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-6) * gamma) @ w


@pytest.mark.parametrize("dtype,torch_dtype,rtol", [
    (yr.float32, torch.float32, 1e-5),
    (yr.float16, torch.float16, 2e-3),
    (yr.bfloat16, torch.bfloat16, 1.6e-2),
])
def test_torch_in_torch_out(dtype, torch_dtype, rtol):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 64, generator=gen).to(torch_dtype)
    gamma = torch.randn(64, generator=gen).to(torch_dtype)
    w = torch.randn(64, 32, generator=gen).to(torch_dtype)
    (y,) = rmsnorm_matmul(dtype)(inputs=[x, gamma, w], backend="reference")
    assert isinstance(y, torch.Tensor)
    assert y.dtype == torch_dtype and tuple(y.shape) == (4, 32) and y.device.type == "cpu"
    want = expected(x, gamma, w)
    torch.testing.assert_close(y.double(), want, rtol=rtol, atol=rtol * want.abs().max().item())


def test_non_contiguous_and_grad_tensors():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=gen).t()  # transposed view
    gamma = torch.randn(64, generator=gen, requires_grad=True)
    w = torch.randn(32, 64, generator=gen).t()
    assert not x.is_contiguous() and not w.is_contiguous()
    (y,) = rmsnorm_matmul(yr.float32)(inputs=[x, gamma, w])
    torch.testing.assert_close(y.double(), expected(x, gamma.detach(), w), rtol=1e-5, atol=1e-5)


def test_torch_output_outlives_the_graph():
    g = rmsnorm_matmul(yr.bfloat16)
    gen = torch.Generator().manual_seed(2)
    args = [torch.randn(4, 64, generator=gen), torch.randn(64, generator=gen),
            torch.randn(64, 32, generator=gen)]
    args = [a.to(torch.bfloat16) for a in args]
    (y,) = g(inputs=args)
    snapshot = y.clone()
    del g, args
    import gc

    gc.collect()
    assert torch.equal(y, snapshot)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensor_on_the_reference_backend_is_a_user_error():
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(4,), dtype=yr.float32)
    g.mark_output(g.exp(X))
    with pytest.raises(yr.UserError, match="the reference backend reads host memory; got a "
                                           "tensor on cuda:0"):
        g(inputs=[torch.ones(4, device="cuda")], backend="reference")
