"""The CUDA kernel benchmark: every row of the CUDA issue's table, measured in one run on one GPU.

PyTorch peers (bf16): eager, eager replayed in a CUDA graph, torch.compile, and torch.compile
replayed in a CUDA graph, each timed over back-to-back calls with CUDA events.

`yirage bench kernels --backend cuda --peers torch,cudnn --json FILE` runs this script with
--torch-only on the same device, in the same run, and merges its rows with yirage's (fused and
naive graphs on the cuda backend), the cudnn backend's and the bandwidth floor. Run directly, the
script does just that through the CLI.

Usage (on a GPU machine):
    python3 bench/cuda_kernels.py --yirage build/src/cli/yirage --json FILE
    python3 bench/cuda_kernels.py --torch-only --json FILE [--only ROW]   (the peers alone)
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

BF16 = torch.bfloat16


def time_calls(fn, calls=200, warmup=20):
    """Microseconds per call: mean of back-to-back calls between two events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1e3 / calls


def time_graph(fn):
    """Microseconds per replay of fn captured in a CUDA graph."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return time_calls(graph.replay)


def once(measure):
    return measure()


def rms(x, eps=1e-6):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


ONLY = ""  # only rows whose name contains this


def peers(rows, name, fn):
    if ONLY not in name:
        return
    entry = {"eager_us": once(lambda: time_calls(fn)), "graph_us": once(lambda: time_graph(fn))}
    try:
        compiled = torch.compile(fn)
        entry["compile_us"] = once(lambda: time_calls(compiled))
        entry["compile_graph_us"] = once(lambda: time_graph(compiled))
    except Exception as error:  # report, never stop the run
        entry["compile_error"] = str(error)[:300]
    entry["best_us"] = min(v for k, v in entry.items() if k.endswith("_us"))
    rows[name] = entry
    print(f"torch {name:36s} " + " ".join(f"{k}={v:.2f}" for k, v in entry.items() if k.endswith("_us")),
          flush=True)


def torch_rows():
    torch.manual_seed(0)
    rows = {}
    randn = lambda *shape, scale=1.0: torch.randn(*shape, dtype=BF16, device="cuda") * scale
    for hidden, qkv, ff, tag in [(1024, 4096, 3072, "0.6B"), (4096, 6144, 12288, "8B")]:
        gain = randn(hidden)
        wqkv = randn(hidden, qkv, scale=hidden ** -0.5)
        wgate = randn(hidden, ff, scale=hidden ** -0.5)
        wup = randn(hidden, ff, scale=hidden ** -0.5)
        for bs in ((1, 8, 64) if tag == "8B" else (1, 64)):
            x = randn(bs, hidden)
            peers(rows, f"qwen3_{tag}_rmsnorm_qkv_bs{bs}", lambda x=x: (rms(x) * gain) @ wqkv)
        for bs in ((1, 64) if tag == "8B" else (1,)):
            x = randn(bs, hidden)
            peers(rows, f"qwen3_{tag}_gated_mlp_bs{bs}", lambda x=x: F.silu(x @ wgate) * (x @ wup))
        if tag == "8B":
            for bs in (1, 8):
                q = randn(bs, 32, 1, 128)
                k, v = randn(bs, 8, 4096, 128), randn(bs, 8, 4096, 128)
                peers(rows, f"qwen3_8B_gqa_decode_kv4096_bs{bs}",
                      lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
    for bs in (1, 8):
        q, k, v = randn(2 * bs, 256, 64), randn(2 * bs, 64, 4096), randn(2 * bs, 4096, 64)
        scale = 64 ** -0.5
        peers(rows, f"mirage_gqa_bs{bs}",
              lambda q=q, k=k, v=v: torch.softmax((q @ k).float() * scale, -1).to(BF16) @ v)
        peers(rows, f"mirage_qknorm_bs{bs}",
              lambda q=q, k=k, v=v: torch.softmax((rms(q) @ rms(k.transpose(1, 2)).transpose(1, 2)).float()
                                                  * scale, -1).to(BF16) @ v)
        x, w = randn(2 * bs, 4096), randn(4096, 6144, scale=1 / 64)
        peers(rows, f"mirage_rmsnorm_bs{bs}", lambda x=x, w=w: rms(x) @ w)
    x, w = randn(16, 256), randn(256, 4096, scale=1 / 16)
    a, b = randn(256, 16, scale=1 / 16), randn(16, 4096, scale=1 / 4)
    peers(rows, "mirage_lora", lambda: x @ w + (x @ a) @ b)
    x8, w1, w2 = randn(8, 4096), randn(4096, 4096, scale=1 / 64), randn(4096, 4096, scale=1 / 64)
    peers(rows, "mirage_gated_mlp", lambda: F.silu(x8 @ w1) * (x8 @ w2))
    h, xn, alpha = randn(8, 4096), randn(8, 4096), randn(8, 4096)
    peers(rows, "mirage_ntrans_bs1", lambda: rms(xn + alpha * (rms(h) + xn)))
    return rows


def copy_bandwidth():
    n = 1 << 30
    a = torch.empty(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    return 2 * n / (time_calls(lambda: b.copy_(a), calls=20, warmup=3) * 1e-6)


def main():
    global ONLY
    parser = argparse.ArgumentParser()
    parser.add_argument("--yirage", default="build/src/cli/yirage")
    parser.add_argument("--json", required=True)
    parser.add_argument("--only", default="", help="only rows whose name contains this")
    parser.add_argument("--torch-only", action="store_true",
                        help="measure the PyTorch peers alone (what the yirage CLI runs)")
    args = parser.parse_args()
    ONLY = args.only
    if not args.torch_only:
        command = [args.yirage, "bench", "kernels", "--backend", "cuda", "--peers", "torch,cudnn",
                   "--python", sys.executable, "--peer-script", os.path.abspath(__file__),
                   "--json", args.json]
        if args.only:
            command += ["--only", args.only]
        return subprocess.run(command, check=False).returncode
    bandwidth = copy_bandwidth()
    print(f"copy bandwidth (torch) {bandwidth / 1e12:.2f} TB/s", flush=True)
    result = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(),
        "copy_TBps": bandwidth / 1e12,
        "method": "microseconds per call over back-to-back calls timed with CUDA events; "
                  "*graph_us: replays of one call captured in a CUDA graph",
        "rows": torch_rows(),
    }
    with open(args.json, "w") as out:
        json.dump(result, out, indent=1)
    print("wrote", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
