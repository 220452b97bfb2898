"""yirage: a superoptimizer, compiler and runtime for LLM inference.

Build a kernel graph, mark its outputs and run it on a backend::

    import numpy as np, ml_dtypes, yirage as yr

    g = yr.new_kernel_graph()
    X = g.new_input(dims=(8, 1024), dtype=yr.bfloat16)
    G = g.new_input(dims=(1024,), dtype=yr.bfloat16)
    W = g.new_input(dims=(1024, 4096), dtype=yr.bfloat16)
    g.mark_output(g.matmul(g.rms_norm(X, G, eps=1e-6), W))
    (y,) = g(inputs=[x, gamma, w], backend="reference")

A fused kernel is a block graph (uGraph), written as in Mirage and checked against the graph it
replaces::

    tb = yr.new_threadblock_graph(grid_dim=(64, 1, 1), forloop_range=16)
    bx = tb.new_input(dtensor=X, input_map=(-1, -1, -1), forloop_dim=1)
    bw = tb.new_input(dtensor=W, input_map=(1, -1, -1), forloop_dim=0)
    tb.new_output(stensor=tb.forloop_accum(tb.matmul(bx, bw)), output_map=(1, -1, -1))
    (Y,) = fused.customized(inputs=[X, W], bgraph=tb)
    assert yr.verify(naive, fused)

The superoptimizer searches such fused programs itself, verifies each one, and caches the
result on disk::

    opt = naive.superoptimize(backend="reference", time_budget=30, seed=0)
    print(opt.report()["summary"], len(opt.kernels))
    (y,) = opt(inputs=[x, gamma, w])

NumPy inputs give NumPy outputs (ml_dtypes.bfloat16 for bfloat16), PyTorch inputs give PyTorch
outputs; other DLPack producers are read too. Bad input raises yr.UserError (a ValueError) with
a message that says what was wrong and what was expected.
"""

from ._core import (
    BackendInfo,
    BlockGraph,
    CpuFeatures,
    DTensor,
    DType,
    InternalError,
    OpInfo,
    SearchProgress,
    STensor,
    StreamDecoder,
    TensorType,
    Tokenizer,
    UserError,
    VerifyResult,
    __version__,
    apply_chat_template,
    cpu_features,
    float_error_bound,
    get_available_backends,
    get_num_threads,
    make_demo_model,
    new_threadblock_graph,
    op_info,
    op_names,
    set_num_threads,
    verify,
)
from ._arrays import numpy_dtype
from ._graph import Kernel, KernelGraph, OptimizedProgram, graph_from_json, new_kernel_graph
from .llm import LLM, CompletionOutput, RequestOutput, SamplingParams

float32 = DType.float32
float16 = DType.float16
bfloat16 = DType.bfloat16
int32 = DType.int32
int64 = DType.int64

__all__ = [
    "BackendInfo",
    "BlockGraph",
    "CpuFeatures",
    "DTensor",
    "DType",
    "InternalError",
    "Kernel",
    "KernelGraph",
    "OpInfo",
    "OptimizedProgram",
    "STensor",
    "SearchProgress",
    "StreamDecoder",
    "TensorType",
    "Tokenizer",
    "UserError",
    "VerifyResult",
    "__version__",
    "apply_chat_template",
    "bfloat16",
    "cpu_features",
    "float16",
    "float32",
    "float_error_bound",
    "get_available_backends",
    "get_num_threads",
    "graph_from_json",
    "int32",
    "int64",
    "make_demo_model",
    "new_kernel_graph",
    "new_threadblock_graph",
    "numpy_dtype",
    "op_info",
    "op_names",
    "set_num_threads",
    "verify",
    # Text generation (llm.py)
    "CompletionOutput",
    "LLM",
    "RequestOutput",
    "SamplingParams",
]
