"""PyTorch CUDA tensors through yirage without copies (DLPack in and out, streams), the cudnn
backend from Python, and the search profiling on the GPU. Skipped, with the reason, where
PyTorch, a CUDA device or the backend is missing (CI).

GPU command: PYTHONPATH=build-gpu/python python3 -m pytest tests/python/test_cuda_dlpack.py
"""

import pytest

import ugraph_programs
import yirage as yr

torch = pytest.importorskip("torch", reason="needs PyTorch")


def backend_info(name):
    return next(b for b in yr.get_available_backends() if b.name == name)


def needs(name):
    info = backend_info(name)
    usable = torch.cuda.is_available() and info.available
    why = info.reason or "torch sees no CUDA device"
    return pytest.mark.skipif(not usable, reason=f"needs a CUDA device and the {name} backend: {why}")


def rmsnorm_matmul(m=8, k=256, n=128, dtype=yr.bfloat16):
    g = yr.new_kernel_graph()
    X = g.new_input(dims=(m, k), dtype=dtype)
    G = g.new_input(dims=(k,), dtype=dtype)
    W = g.new_input(dims=(k, n), dtype=dtype)
    g.mark_output(g.matmul(g.rms_norm(X, G), W))
    return g


def torch_rmsnorm_matmul(x, gain, w):
    xf = x.double()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6) * gain.double()) @ w.double()


def cuda_inputs(seed=0, m=8, k=256, n=128):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.randn(m, k, device="cuda", generator=gen).bfloat16()
    gain = torch.randn(k, device="cuda", generator=gen).bfloat16()
    w = (torch.randn(k, n, device="cuda", generator=gen) / 16).bfloat16()
    return x, gain, w


def close(got, want, rtol=2e-2):
    torch.testing.assert_close(got.double(), want, rtol=rtol, atol=rtol * want.abs().max().item())


@needs("cuda")
def test_cuda_tensors_stay_on_the_device_and_the_output_is_the_result_memory():
    x, gain, w = cuda_inputs()
    (y,) = rmsnorm_matmul()(inputs=[x, gain, w], backend="cuda")
    assert isinstance(y, torch.Tensor) and y.is_cuda and y.dtype == torch.bfloat16
    close(y, torch_rmsnorm_matmul(x, gain, w))
    # torch.from_dlpack of the same memory gives the same storage, no copy.
    again = torch.from_dlpack(y)
    assert again.data_ptr() == y.data_ptr()


@needs("cuda")
def test_a_strided_cuda_input_is_read_correctly():
    x, gain, w = cuda_inputs(1)
    wt = w.t().contiguous().t()  # the same values, column-major
    assert not wt.is_contiguous()
    (y,) = rmsnorm_matmul()(inputs=[x, gain, wt], backend="cuda")
    close(y, torch_rmsnorm_matmul(x, gain, w))


@needs("cuda")
def test_work_on_a_side_stream_is_ordered_before_and_after():
    g = rmsnorm_matmul(m=64, k=1024, n=1024)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        x, gain, w = cuda_inputs(2, 64, 1024, 1024)
        x.mul_(1.0)  # more work queued on the side stream before the call
        (y,) = g(inputs=[x, gain, w], backend="cuda")
        z = y * 2  # reads the output on the side stream
    torch.cuda.synchronize()
    close(z / 2, torch_rmsnorm_matmul(x, gain, w))


@needs("cuda")
def test_another_dlpack_producer_on_the_gpu_gets_dlpack_objects_back():
    class Producer:
        """Only the DLPack protocol of a CUDA tensor."""

        def __init__(self, tensor):
            self.tensor = tensor

        def __dlpack__(self, **kwargs):
            return self.tensor.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.tensor.__dlpack_device__()

    x, gain, w = cuda_inputs(3)
    torch.cuda.synchronize()
    (out,) = rmsnorm_matmul()(inputs=[Producer(x), Producer(gain), Producer(w)], backend="cuda")
    assert out.__dlpack_device__()[0] == 2  # kDLCUDA
    torch.cuda.synchronize()
    close(torch.from_dlpack(out), torch_rmsnorm_matmul(x, gain, w))


def attention_graph(heads, group, kv_len, head_dim):
    g = yr.new_kernel_graph()
    Q = g.new_input(dims=(heads, group, head_dim), dtype=yr.bfloat16)
    K = g.new_input(dims=(heads, kv_len, head_dim), dtype=yr.bfloat16)
    V = g.new_input(dims=(heads, kv_len, head_dim), dtype=yr.bfloat16)
    scores = g.mul_scalar(g.matmul(Q, g.transpose(K, 1, 2)), head_dim ** -0.5)
    g.mark_output(g.matmul(g.softmax(scores, dim=-1), V))
    return g


@needs("cudnn")
def test_cudnn_attention_from_torch_matches_torch():
    q = torch.randn(8, 4, 128, device="cuda").bfloat16()
    k = torch.randn(8, 2048, 128, device="cuda").bfloat16()
    v = torch.randn(8, 2048, 128, device="cuda").bfloat16()
    (o,) = attention_graph(8, 4, 2048, 128)(inputs=[q, k, v], backend="cudnn")
    assert o.is_cuda and tuple(o.shape) == (8, 4, 128)
    want = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double())
    close(o, want)


@needs("cuda")
def test_superoptimize_profiles_candidates_on_the_gpu(tmp_path):
    naive, _ = ugraph_programs.rms_norm_matmul(8, 1024, 2048, dtype=yr.bfloat16)
    opt = naive.superoptimize(backend="cuda", time_budget=60, seed=0, cache_dir=tmp_path,
                              max_verified=4)
    report = opt.report()
    assert report["profiled"] >= 1, report["summary"]
    assert "on cuda" in report["summary"]
    assert report["original_seconds"] > 0 and 0 < report["best_seconds"] <= report["original_seconds"]
    x, gain, w = cuda_inputs(4, 8, 1024, 2048)
    (y,) = opt(inputs=[x, gain, w], backend="cuda")
    close(y, torch_rmsnorm_matmul(x, gain, w))
    print(report["summary"])
