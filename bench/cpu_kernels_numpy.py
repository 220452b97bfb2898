#!/usr/bin/env python3
"""The NumPy peer of `yirage bench kernels`: times the same computations in NumPy (float32) for
every row of the JSON file that command wrote, and adds a "numpy" column (seconds, GB/s of its
own float32 inputs and outputs, fraction of the bandwidth measured by the yirage run) and the
ratio "speedup_vs_numpy" of the fused kernel.

    yirage bench kernels --backend cpu --json bench/results/cpu-kernels.json
    python bench/cpu_kernels_numpy.py bench/results/cpu-kernels.json
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

EPS = 1e-6


def _random(rng, *shape):
    magnitude = rng.uniform(0.1, 1.0, size=shape)
    sign = np.where(rng.random(size=shape) < 0.5, -1.0, 1.0)
    return (magnitude * sign).astype(np.float32)


def _silu(a):
    with np.errstate(over="ignore"):  # exp(-a) overflows to inf for very negative a: silu -> 0
        return a / (1.0 + np.exp(-a))


def build(kernel, e, rng):
    """(inputs, function) for one row's kernel at its extents."""
    if kernel == "rms_norm_qkv":
        x, g, w = _random(rng, e["batch"], e["hidden"]), _random(rng, e["hidden"]), _random(
            rng, e["hidden"], e["out"])

        def run(x, g, w):
            scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS)
            return (x * scale * g) @ w

        return [x, g, w], run
    if kernel == "gated_mlp":
        x = _random(rng, e["batch"], e["hidden"])
        w1, w2 = _random(rng, e["hidden"], e["inter"]), _random(rng, e["hidden"], e["inter"])
        return [x, w1, w2], lambda x, w1, w2: _silu(x @ w1) * (x @ w2)
    if kernel == "lora":
        x, w = _random(rng, e["batch"], e["hidden"]), _random(rng, e["hidden"], e["out"])
        a, b = _random(rng, e["hidden"], e["rank"]), _random(rng, e["rank"], e["out"])
        return [x, w, a, b], lambda x, w, a, b: x @ w + (x @ a) @ b
    if kernel == "gqa_decode":
        heads, group, length, dim = e["kv_heads"], e["group"], e["kv_len"], e["head_dim"]
        q = _random(rng, heads, group, dim)
        k, v = _random(rng, heads, length, dim), _random(rng, heads, length, dim)
        scale = np.float32(1.0 / np.sqrt(dim))

        def run(q, k, v):
            s = (q @ k.transpose(0, 2, 1)) * scale
            p = np.exp(s - s.max(axis=-1, keepdims=True))
            return (p / p.sum(axis=-1, keepdims=True)) @ v

        return [q, k, v], run
    raise ValueError(f"unknown kernel '{kernel}' in the JSON rows; expected rms_norm_qkv, "
                     "gated_mlp, lora or gqa_decode")


def time_runs(run, inputs, min_runs, min_seconds):
    """Median of back-to-back calls after two warm-up calls."""
    for _ in range(2):
        out = run(*inputs)
    samples, start = [], time.perf_counter()
    while True:
        before = time.perf_counter()
        out = run(*inputs)
        after = time.perf_counter()
        samples.append(after - before)
        if (len(samples) >= min_runs and after - start >= min_seconds) or len(samples) >= 2000:
            break
    return statistics.median(samples), len(samples), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", help="file written by `yirage bench kernels --json`; updated in place")
    parser.add_argument("--min-runs", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.25)
    args = parser.parse_args()

    with open(args.json) as f:
        document = json.load(f)
    bandwidth = document["machine"]["memory_bandwidth_gbps"] * 1e9
    rng = np.random.default_rng(7)
    print(f"{'set':11}{'kernel':14}{'batch':>6}{'numpy ms':>11}{'fused ms':>11}{'GB/s':>9}"
          f"{'vs numpy':>10}")
    for row in document["rows"]:
        inputs, run = build(row["kernel"], row["extents"], rng)
        seconds, runs, out = time_runs(run, inputs, args.min_runs, args.min_seconds)
        nbytes = sum(a.nbytes for a in inputs) + np.asarray(out).nbytes
        gbps = nbytes / seconds / 1e9
        row["numpy"] = {"seconds": seconds, "runs": runs, "gbps": gbps, "bytes": nbytes,
                        "dtype": "float32", "bandwidth_fraction": gbps * 1e9 / bandwidth}
        row["speedup_vs_numpy"] = seconds / row["fused"]["seconds"]
        print(f"{row['set']:11}{row['kernel']:14}{row['batch']:>6}{seconds * 1e3:>11.3f}"
              f"{row['fused']['seconds'] * 1e3:>11.3f}{gbps:>9.1f}"
              f"{row['speedup_vs_numpy']:>9.2f}x", flush=True)
    document["numpy"] = {"version": np.__version__, "dtype": "float32",
                         "timing": "median of back-to-back calls after 2 warm-up calls",
                         "thread_settings": {name: os.environ[name] for name in
                                             ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                              "MKL_NUM_THREADS") if name in os.environ}}
    with open(args.json, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    print(f"updated {args.json}")


if __name__ == "__main__":
    main()
