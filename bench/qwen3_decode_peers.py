#!/usr/bin/env python3
"""CPU decode speed of the Qwen3-0.6B-shaped demo model: yirage and llama.cpp in one run.

Makes the demo checkpoints it needs in a cache directory (`yirage make-demo-model`), converts
them to GGUF (bench/gguf_from_checkpoint.py), then, each in its own child process and one after
the other:

1. checks the llama.cpp peer: the tiny demo model in float32 through llama.cpp, greedy, against
   the continuations transformers produced (tests/fixtures/qwen3-demo/tiny-float32.json), and
   llama.cpp's tokenization of the fixture's texts against the fixture's ids;
2. times llama.cpp decoding the qwen3-0.6b-shape model (bfloat16) at batch 1 and batch 8
   (8 sequences in one llama_batch per step, through llama-cpp-python's low-level API);
3. times yirage (`yirage.LLM(dir, backend="cpu")`) with the same prompts and settings, when this
   yirage has `LLM`; otherwise the results say so.

Every run uses the same prompt ids (prompt length P), greedy decoding of N tokens with end of
sequence ignored, and all cores. Decode speed counts the tokens after the first generated one
of every sequence (prefill excluded): batch * (N - 1) tokens for llama.cpp, whose steps this
script drives; for yirage, the tokens whose timestamps (RequestOutput.timings) fall after the
last sequence's first token. The best of --repeats runs after one warm-up. Writes
bench/results/cpu-qwen3-decode-peers.json. Reports, never asserts.

    # llama-cpp-python, gguf and numpy in their own venv (llama-cpp-python compiles llama.cpp):
    python3 -m venv /work/llama-venv
    CMAKE_ARGS="-DGGML_NATIVE=ON" /work/llama-venv/bin/pip install llama-cpp-python gguf numpy
    PYTHONPATH=build/python .venv/bin/python bench/qwen3_decode_peers.py \
        --llama-python /work/llama-venv/bin/python

Not part of the test suite: it needs the 1.2 GB model and a llama.cpp build.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "qwen3-demo" / "tiny-float32.json"
CONVERTER = REPO / "bench" / "gguf_from_checkpoint.py"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

def prompt_batch(prompt_tokens: int, batch: int) -> list[list[int]]:
    """`batch` distinct prompts of `prompt_tokens` ids each, from the fixture's longest prompt."""
    fixture = json.loads(FIXTURE.read_text())
    source = max((p["ids"] for p in fixture["prompts"]), key=len)
    while len(source) < prompt_tokens + batch:
        source = source + source
    return [source[b:b + prompt_tokens] for b in range(batch)]


def decode_rate(batch: int, tokens: int, seconds: float) -> dict:
    """tokens/s, ms per token and ms per step (one token for each of `batch` sequences)."""
    return {
        "decode_seconds": seconds,
        "decode_tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "ms_per_token": 1000.0 * seconds / tokens,
        "ms_per_step": 1000.0 * seconds * batch / tokens,
    }


def emit(result: dict) -> None:
    """A worker's result: one JSON line on stdout, after a marker."""
    print("@@RESULT@@ " + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# llama.cpp worker (runs under the Python that has llama-cpp-python)
# ---------------------------------------------------------------------------------------------

class LlamaRunner:
    """One llama.cpp model and context driven through llama-cpp-python's low-level API."""

    def __init__(self, gguf_path: str, threads: int, n_seq: int, n_ctx: int, f32_cache: bool,
                 flash_attention: bool | None = None):
        import llama_cpp as lc
        import numpy as np

        self.lc, self.np = lc, np
        lc.llama_backend_init()
        model_params = lc.llama_model_default_params()
        model_params.n_gpu_layers = 0
        self.model = lc.llama_model_load_from_file(gguf_path.encode(), model_params)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {gguf_path}")
        self.vocab = lc.llama_model_get_vocab(self.model)
        self.n_vocab = lc.llama_vocab_n_tokens(self.vocab)
        params = lc.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = max(512, n_ctx)
        params.n_ubatch = max(512, n_ctx)
        params.n_seq_max = n_seq
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        if f32_cache:
            params.type_k = lc.GGML_TYPE_F32
            params.type_v = lc.GGML_TYPE_F32
        if flash_attention is not None:
            params.flash_attn_type = (lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attention
                                      else lc.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        self.settings = {
            "n_ctx": n_ctx, "n_seq_max": n_seq, "n_threads": threads,
            "flash_attn_type": {-1: "auto (llama.cpp default)", 0: "disabled", 1: "enabled"}.get(
                int(params.flash_attn_type), int(params.flash_attn_type)),
            "kv_cache_type": "f32" if f32_cache else "f16 (llama.cpp default)",
        }
        self.ctx = lc.llama_init_from_model(self.model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self.capacity = max(n_ctx, 8)
        self.batch = lc.llama_batch_init(self.capacity, 0, n_seq)

    def clear(self) -> None:
        """Forgets every sequence (the KV cache)."""
        self.lc.llama_memory_clear(self.lc.llama_get_memory(self.ctx), True)

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One llama_decode of (token, position, sequence, wants logits) entries."""
        if len(entries) > self.capacity:
            raise RuntimeError(f"{len(entries)} tokens exceed the batch capacity {self.capacity}")
        b = self.batch
        for i, (token, pos, seq, logits) in enumerate(entries):
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = 1 if logits else 0
        b.n_tokens = len(entries)
        status = self.lc.llama_decode(self.ctx, b)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")

    def logits(self, index: int):
        """The logits row of batch entry `index` of the last decode (a NumPy view)."""
        pointer = self.lc.llama_get_logits_ith(self.ctx, index)
        return self.np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def generate(self, prompts: list[list[int]], new_tokens: int):
        """Greedy continuations of all prompts together; returns (ids, first logits, seconds).

        seconds: the time of the new_tokens - 1 decode steps after the first token.
        """
        self.clear()
        entries, last = [], []
        for seq, ids in enumerate(prompts):
            for pos, token in enumerate(ids):
                entries.append((token, pos, seq, pos == len(ids) - 1))
            last.append(len(entries) - 1)
        self.decode(entries)
        first_logits = [self.logits(i).copy() for i in last]
        out = [[int(row.argmax())] for row in first_logits]
        start = time.perf_counter()
        for step in range(1, new_tokens):
            self.decode([(out[s][-1], len(prompts[s]) + step - 1, s, True)
                         for s in range(len(prompts))])
            for s in range(len(prompts)):
                out[s].append(int(self.logits(s).argmax()))
        seconds = time.perf_counter() - start
        return out, first_logits, seconds

    def tokenize(self, text: str) -> list[int]:
        """llama.cpp's tokenization of `text` (special tokens parsed, none added)."""
        data = text.encode("utf-8")
        array = (self.lc.llama_token * (len(data) + 8))()
        n = self.lc.llama_tokenize(self.vocab, data, len(data), array, len(array), False, True)
        if n < 0:
            raise RuntimeError(f"llama_tokenize needs {-n} tokens")
        return list(array[:n])

    def close(self) -> None:
        """Frees the batch, context and model."""
        self.lc.llama_batch_free(self.batch)
        self.lc.llama_free(self.ctx)
        self.lc.llama_model_free(self.model)


def llama_versions() -> dict:
    """llama-cpp-python, gguf and llama.cpp's view of the CPU."""
    import llama_cpp as lc

    info = {"llama_cpp_python": lc.__version__,
            "llama_cpp_system_info": lc.llama_print_system_info().decode().strip()}
    try:
        from importlib.metadata import version
        info["gguf"] = version("gguf")
    except Exception as error:  # noqa: BLE001 - reported, not fatal
        info["gguf"] = f"unknown ({error})"
    return info


def check_greedy(args, flash_attention: bool | None) -> dict:
    """Greedy continuations and top-20 logits of the fixture's prompts through llama.cpp."""
    import numpy as np

    fixture = json.loads(FIXTURE.read_text())
    longest = max(len(p["ids"]) for p in fixture["prompts"])
    steps = len(fixture["prompts"][0]["greedy_ids"])
    runner = LlamaRunner(args.gguf, args.threads, 1, longest + steps + 8, f32_cache=True,
                         flash_attention=flash_attention)
    prompts = []
    for p in fixture["prompts"]:
        ids, first_logits, _ = runner.generate([p["ids"]], len(p["greedy_ids"]))
        top = np.asarray(p["last_top_ids"])
        logit_error = float(np.max(np.abs(first_logits[0][top] - np.asarray(p["last_top_logits"]))))
        tokens = runner.tokenize(p["text"])
        prompts.append({
            "prompt_tokens": len(p["ids"]),
            "greedy_expected": p["greedy_ids"],
            "greedy_llama_cpp": ids[0],
            "greedy_match": ids[0] == p["greedy_ids"],
            "smallest_greedy_margin": min(p["greedy_margins"]),
            "max_abs_logit_error_top20": logit_error,
            "tokenization_match": tokens == p["ids"],
        })
    settings = runner.settings
    runner.close()
    return {
        "settings": settings,
        "all_greedy_match": all(p["greedy_match"] for p in prompts),
        "all_tokenization_match": all(p["tokenization_match"] for p in prompts),
        "max_abs_logit_error_top20": max(p["max_abs_logit_error_top20"] for p in prompts),
        "prompts": prompts,
    }


def worker_llama_check(args) -> None:
    """The tiny float32 model through llama.cpp against transformers' greedy continuations,
    with flash attention off (float32 throughout) and at llama.cpp's default."""
    exact = check_greedy(args, flash_attention=False)
    default = check_greedy(args, flash_attention=None)
    emit({
        "fixture": str(FIXTURE.relative_to(REPO)),
        "model": "tiny demo checkpoint, float32, converted to GGUF (F32 weights, F32 KV cache)",
        "all_greedy_match": exact["all_greedy_match"],
        "all_tokenization_match": exact["all_tokenization_match"],
        "max_abs_logit_error_top20": exact["max_abs_logit_error_top20"],
        "flash_attention_off": exact,
        "flash_attention_default": {k: v for k, v in default.items() if k != "prompts"}
        | {"greedy_match_per_prompt": [p["greedy_match"] for p in default["prompts"]]},
    })


def worker_llama_bench(args) -> None:
    """llama.cpp decode speed at each batch size."""
    runs = {}
    for batch in args.batches:
        prompts = prompt_batch(args.prompt_tokens, batch)
        n_ctx = batch * (args.prompt_tokens + args.new_tokens + 16)
        runner = LlamaRunner(args.gguf, args.threads, batch, n_ctx, f32_cache=False)
        runner.generate(prompts, min(args.new_tokens, 8))  # warm-up
        timings = []
        for _ in range(args.repeats):
            ids, _, seconds = runner.generate(prompts, args.new_tokens)
            timings.append(seconds)
        runs[str(batch)] = {
            **decode_rate(batch, batch * (args.new_tokens - 1), min(timings)),
            "all_decode_seconds": timings,
            "first_ids": ids[0][:8],
            "settings": runner.settings,
        }
        runner.close()
    emit({"versions": llama_versions(), "runs": runs})


# ---------------------------------------------------------------------------------------------
# yirage worker (runs under the Python that imports yirage)
# ---------------------------------------------------------------------------------------------

def window(outputs, new_tokens: int) -> tuple[float, int]:
    """(seconds, tokens) of the decode window of one yirage.LLM.generate: from the moment every
    sequence has its first token to the last token, counting the tokens that came inside it."""
    times = [o.timings["token_times_s"] for o in outputs]
    if any(len(t) != new_tokens for t in times):
        raise RuntimeError(f"yirage generated {[len(t) for t in times]} tokens; "
                           f"expected {new_tokens}")
    start = max(t[0] for t in times)
    tokens = sum(1 for t in times for x in t if x > start)
    return max(t[-1] for t in times) - start, tokens


def worker_yirage_bench(args) -> None:
    """yirage decode speed at each batch size, through yirage.LLM."""
    import yirage as yr

    if not hasattr(yr, "LLM"):
        emit({"available": False, "reason": "this yirage has no LLM (the generation engine)",
              "version": yr.__version__})
        return
    llm = yr.LLM(args.model, backend="cpu", max_batch=max(args.batches))
    runs = {}
    for batch in args.batches:
        prompts = prompt_batch(args.prompt_tokens, batch)
        params = yr.SamplingParams(temperature=0.0, max_tokens=args.new_tokens, ignore_eos=True)
        warm = yr.SamplingParams(temperature=0.0, max_tokens=min(args.new_tokens, 8),
                                 ignore_eos=True)
        timings = []
        try:
            llm.generate(prompts, warm)
            for _ in range(args.repeats):
                outputs = llm.generate(prompts, params)
                timings.append(window(outputs, args.new_tokens))
        except (yr.UserError, RuntimeError) as error:
            runs[str(batch)] = {"error": f"{type(error).__name__}: {error}"}
            continue
        seconds, tokens = max(timings, key=lambda t: t[1] / t[0])
        runs[str(batch)] = {
            **decode_rate(batch, tokens, seconds),
            "all_decode_seconds": [t[0] for t in timings],
            "first_ids": list(outputs[0].outputs[0].token_ids[:8]),
            "settings": {"backend": llm.backend,
                         "YIRAGE_NUM_THREADS": os.environ.get("YIRAGE_NUM_THREADS"),
                         "max_batch": max(args.batches)},
        }
    emit({"available": True, "version": yr.__version__, "module": str(Path(yr.__file__).parent),
          "source": args.yirage_source, "runs": runs})


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def run_worker(python: str, mode: str, extra: list[str], env: dict | None = None) -> dict:
    """Runs this file as a worker under `python`; returns its result or the failure."""
    command = [python, str(Path(__file__).resolve()), "--worker", mode] + extra
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    for line in done.stdout.splitlines():
        if line.startswith("@@RESULT@@ "):
            return json.loads(line[len("@@RESULT@@ "):])
    return {"error": f"{mode} worker exited with {done.returncode}",
            "stderr_tail": done.stderr[-3000:]}


def make_checkpoint(directory: Path, preset: str, dtype: str, yirage_cli: str | None) -> None:
    """Writes the demo checkpoint unless `directory` already holds one."""
    if (directory / "model.safetensors").is_file():
        return
    try:
        import yirage as yr
        print(f"making {directory} ({preset}, {dtype})", file=sys.stderr, flush=True)
        yr.make_demo_model(str(directory), preset=preset,
                           dtype={"bf16": "bfloat16", "f32": "float32"}[dtype])
        return
    except ImportError:
        pass
    cli = yirage_cli or shutil.which("yirage") or str(REPO / "build" / "src" / "cli" / "yirage")
    subprocess.run([cli, "make-demo-model", str(directory), "--preset", preset, "--dtype", dtype],
                   check=True)


def make_gguf(checkpoint: Path, out: Path, llama_python: str) -> None:
    """Converts `checkpoint` to GGUF unless `out` is already newer than its weights."""
    weights = checkpoint / "model.safetensors"
    if out.is_file() and out.stat().st_mtime >= weights.stat().st_mtime:
        return
    subprocess.run([llama_python, str(CONVERTER), str(checkpoint), str(out)], check=True)


def machine() -> dict:
    """CPU model, cores, ISA extensions, memory and load."""
    model, flags = platform.processor(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    wanted = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
              "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"]
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": model,
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "isa": [f for f in wanted if f in flags],
        "memory_gib": memory,
        "os": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llama-python", default=sys.executable,
                        help="Python with llama-cpp-python and gguf (default: this one)")
    parser.add_argument("--yirage-python", default=sys.executable,
                        help="Python that imports yirage (default: this one)")
    parser.add_argument("--yirage-cli", default=None, help="yirage executable for make-demo-model")
    parser.add_argument("--yirage-source", default=None,
                        help="where the measured yirage was built from, for the results")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "yirage" / "bench")
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[os.cpu_count()],
                        help="thread counts to measure (default: all cores)")
    parser.add_argument("--skip-check", action="store_true", help="skip the tiny-model check")
    parser.add_argument("--out", type=Path,
                        default=REPO / "bench" / "results" / "cpu-qwen3-decode-peers.json")
    parser.add_argument("--worker", choices=["llama-check", "llama-bench", "yirage-bench"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--gguf", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.new_tokens < 2 or args.prompt_tokens < 1 or args.repeats < 1:
        parser.error("--new-tokens must be at least 2, --prompt-tokens and --repeats at least 1")

    if args.worker:
        args.threads = args.threads[0]
    if args.worker == "llama-check":
        worker_llama_check(args)
        return 0
    if args.worker == "llama-bench":
        worker_llama_bench(args)
        return 0
    if args.worker == "yirage-bench":
        worker_yirage_bench(args)
        return 0

    started = time.time()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    tiny = args.cache_dir / "qwen3-demo-tiny-f32"
    big = args.cache_dir / "qwen3-demo-0.6b-shape-bf16"
    tiny_gguf, big_gguf = Path(f"{tiny}.gguf"), Path(f"{big}.gguf")
    make_checkpoint(big, "qwen3-0.6b-shape", "bf16", args.yirage_cli)
    make_gguf(big, big_gguf, args.llama_python)
    common = ["--prompt-tokens", str(args.prompt_tokens), "--new-tokens", str(args.new_tokens),
              "--repeats", str(args.repeats), "--batches", *map(str, args.batches)]

    result = {
        "benchmark": "bench/qwen3_decode_peers.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "model": {
            "checkpoint": "yirage make-demo-model --preset qwen3-0.6b-shape --dtype bf16 "
                          "(Qwen3-0.6B shapes, deterministic pseudo-random weights)",
            "gguf": "bench/gguf_from_checkpoint.py (BF16 matrices, F32 norms)",
        },
        "settings": {
            "prompt_tokens": args.prompt_tokens,
            "new_tokens": args.new_tokens,
            "batches": args.batches,
            "threads": args.threads,
            "repeats": args.repeats,
            "sampling": "greedy, end of sequence ignored",
            "measure": "decode only: the tokens after every sequence's first generated token; "
                       "best of the repeats after one warm-up; llama.cpp and yirage alternate "
                       "per thread count, each in its own process",
        },
    }
    if not args.skip_check:
        make_checkpoint(tiny, "tiny", "f32", args.yirage_cli)
        make_gguf(tiny, tiny_gguf, args.llama_python)
        result["llama_cpp_check"] = run_worker(
            args.llama_python, "llama-check",
            ["--gguf", str(tiny_gguf), "--threads", str(args.threads[0])])

    peers = {"llama_cpp": {"runs": {}}, "yirage": {"runs": {}}}
    for threads in args.threads:
        for name in ("llama_cpp", "yirage"):
            load = list(os.getloadavg())
            if name == "llama_cpp":
                part = run_worker(args.llama_python, "llama-bench",
                                  ["--gguf", str(big_gguf),
                                   "--threads", str(threads)] + common)
            else:
                part = run_worker(args.yirage_python, "yirage-bench",
                                  ["--model", str(big), "--threads", str(threads),
                                   "--yirage-source", str(args.yirage_source)] + common,
                                  env={**os.environ, "YIRAGE_NUM_THREADS": str(threads)})
            for batch, run in part.pop("runs", {}).items():
                key = f"batch {batch}, {threads} threads"
                peers[name]["runs"][key] = {"batch": int(batch), "threads": threads,
                                            "load_average_before": load, **run}
            for field, value in part.items():
                peers[name].setdefault(field, value)
    result.update(peers)

    ratios = {}
    for key, ours in result["yirage"]["runs"].items():
        peer = result["llama_cpp"]["runs"].get(key)
        if peer and "tokens_per_s" in ours and "tokens_per_s" in peer:
            ratios[key] = ours["tokens_per_s"] / peer["tokens_per_s"]
    result["ratio_yirage_over_llama_cpp"] = ratios
    # Greedy ids of the first sequence from both engines (bfloat16 weights; they may part where
    # two logits nearly tie).
    result["first_ids_agree"] = {
        key: ours["first_ids"] == result["llama_cpp"]["runs"][key]["first_ids"]
        for key, ours in result["yirage"]["runs"].items()
        if "first_ids" in ours and key in result["llama_cpp"]["runs"]}
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    result["wall_seconds"] = time.time() - started

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    for name in ("llama_cpp", "yirage"):
        part = result[name]
        if not part["runs"]:
            print(f"{name}: {part.get('reason') or part.get('error')}")
        for key, run in part["runs"].items():
            if "error" in run:
                print(f"{name:9s} {key}: {run['error']}")
                continue
            print(f"{name:9s} {key}: {run['tokens_per_s']:8.2f} tokens/s, "
                  f"{run['ms_per_token']:8.2f} ms/token, {run['ms_per_step']:8.2f} ms/step")
    for key, ratio in ratios.items():
        print(f"yirage / llama.cpp, {key}: {ratio:.2f}")
    if "llama_cpp_check" in result:
        check = result["llama_cpp_check"]
        print(f"llama.cpp check on the tiny model: greedy match {check.get('all_greedy_match')}, "
              f"tokenization match {check.get('all_tokenization_match')}, "
              f"max top-20 logit error {check.get('max_abs_logit_error_top20')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
