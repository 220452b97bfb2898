"""Qwen3 decode on one GPU: yirage's CUDA engine against the PyTorch peer, in the same run.

yirage runs `yirage bench model demo:PRESET --backend cuda` (demo weights generated in memory,
greedy decoding, batch 1 and 8) in four variants: the default (per step size the faster of
its GEMV kernels and cuBLASLt, timed once), always GEMVs (YIRAGE_CUDA_GEMV=1), always cuBLASLt
(YIRAGE_CUDA_GEMV=0), and the default without programmatic dependent launches
(YIRAGE_CUDA_PDL=0); the peer is bench/peers/torch_qwen3_decode.py (a static KV cache
and the whole decode step in one CUDA graph, optionally torch.compile'd first). One JSON file
with the machine, both sides and the goals goes to bench/results/.

Usage (on the GPU machine, after building build-gpu):
  python3 bench/qwen3_decode_cuda.py [--yirage build-gpu/src/cli/yirage] [--models 0.6B,8B]
      [--batches 1,8] [--max-tokens 64] [--torch-compile] [--skip-torch] [--gemv-only]
      [--out FILE]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRESETS = {"0.6B": "qwen3-0.6b-shape", "8B": "qwen3-8b-shape"}
# ms/token at batch 1 (report only): the goals and the best PyTorch figures measured
# before (torch.compile + CUDA graph, H100).
GOALS_MS = {"0.6B": 0.6, "8B": 5.6}
PYTORCH_BEFORE_MS = {"0.6B": 2.47, "8B": 7.87}


def gpu_description():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=30).stdout
        return out.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_yirage(binary, model, batches, max_tokens, iters, env):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "yirage.json")
        command = [binary, "bench", "model", "demo:" + PRESETS[model], "--backend", "cuda",
                   "--batch-sizes", *[str(b) for b in batches], "--max-tokens", str(max_tokens),
                   "--warmup", "1", "--iters", str(iters), "--unfused-only", "--json", out]
        print("+", " ".join(command), flush=True)
        start = time.time()
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=420,
                                    env=dict(os.environ, **env))
        except subprocess.TimeoutExpired as error:
            return {"error": "timed out after %s s" % error.timeout, "command": command}
        print(result.stdout + result.stderr, flush=True)
        if result.returncode != 0:
            return {"error": (result.stdout + result.stderr)[-2000:], "command": command}
        with open(out) as f:
            document = json.load(f)
        document["wall_seconds"] = time.time() - start
        document["stdout"] = result.stdout
        return document


def run_torch(models, batches, compile_):
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, os.path.join(HERE, "peers", "torch_qwen3_decode.py"),
                   "--models", ",".join(models), "--batches", ",".join(str(b) for b in batches)]
        if compile_:
            command.append("--compile")
        print("+", " ".join(command), flush=True)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                    env=dict(os.environ, OUT=tmp))
        except subprocess.TimeoutExpired as error:
            return {"error": "timed out after %s s" % error.timeout, "command": command}
        print(result.stdout[-4000:] + result.stderr[-4000:], flush=True)
        name = "torch_qwen3_graph%s.json" % ("_compiled" if compile_ else "")
        path = os.path.join(tmp, name)
        if result.returncode != 0 or not os.path.exists(path):
            return {"error": (result.stdout + result.stderr)[-2000:], "command": command}
        with open(path) as f:
            return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yirage", default=os.path.join(ROOT, "build-gpu", "src", "cli", "yirage"))
    parser.add_argument("--models", default="0.6B,8B")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--torch-compile", action="store_true",
                        help="also run the peer through torch.compile (its strongest form)")
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--gemv-only", action="store_true",
                        help="run only yirage's default variant")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results",
                                                       "cuda-h100-qwen3-decode.json"))
    args = parser.parse_args()
    models = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]

    document = {"benchmark": "qwen3_decode_cuda",
                "machine": {"gpu": gpu_description(), "host": platform.node(),
                            "cpu_count": os.cpu_count()},
                "max_tokens": args.max_tokens, "batches": batches,
                "goals_ms_per_token_bs1": GOALS_MS,
                "pytorch_best_before_ms_per_token_bs1": PYTORCH_BEFORE_MS,
                "yirage": {}, "torch": {}, "summary": []}
    # The default (per step size, the faster of GEMVs and cuBLASLt by timed graph replays),
    # then always the GEMVs, always cuBLASLt, and the default without programmatic dependent
    # launches.
    variants = {"auto": {}, "gemv": {"YIRAGE_CUDA_GEMV": "1"},
                "cublaslt": {"YIRAGE_CUDA_GEMV": "0"}, "auto_no_pdl": {"YIRAGE_CUDA_PDL": "0"}}
    if args.gemv_only:
        variants = {"auto": {}}
    for name, env in variants.items():
        document["yirage"][name] = {}
        for model in models:
            document["yirage"][name][model] = run_yirage(args.yirage, model, batches,
                                                         args.max_tokens, args.iters, env)
    if not args.skip_torch:
        document["torch"]["cuda_graph"] = run_torch(models, batches, False)
        if args.torch_compile:
            document["torch"]["compiled_cuda_graph"] = run_torch(models, batches, True)
        try:
            import torch
            document["machine"]["torch"] = torch.__version__
        except ImportError:
            pass

    for model in models:
        for batch in batches:
            line = {"model": model, "batch": batch}
            for name in variants:
                for row in document["yirage"][name][model].get("rows", []):
                    if row["batch"] == batch:
                        line["yirage_%s_ms_per_token" % name] = row["token_latency_ms"]
                        line["yirage_%s_decode_tokens_per_s" % name] = row["decode_tokens_per_s"]
            for variant, peer in document["torch"].items():
                value = peer.get(model, {}).get("graph_bs%d_ms_per_step" % batch)
                if value is not None:
                    line["torch_%s_ms_per_step" % variant] = value
            if batch == 1:
                line["goal_ms"] = GOALS_MS.get(model)
            document["summary"].append(line)
            print(json.dumps(line), flush=True)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
