"""Tokenizer benchmark: load time of models/qwen3-tokenizer and single-thread encode throughput
on the conformance corpus, yirage against Hugging Face `tokenizers` (when installed) in the same
run. Writes bench/results/tokenizer-cpu.json.

    PYTHONPATH=build/python .venv/bin/python bench/tokenizer_bench.py [--repeats N]
"""

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # `tokenizers` on one thread, as yirage here

import yirage as yr  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOKENIZER_DIR = ROOT / "models" / "qwen3-tokenizer"
RESULT = ROOT / "bench" / "results" / "tokenizer-cpu.json"


def corpus():
    spec = importlib.util.spec_from_file_location("tokenizer_corpus",
                                                  ROOT / "tests" / "llm" / "tokenizer_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.corpus()


def timed(fn, repeats, clock=time.perf_counter):
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def source_text():
    """English prose and C++: the repository's Markdown files and public headers."""
    files = sorted(ROOT.glob("*.md")) + sorted((ROOT / "src" / "yirage").rglob("*.h"))
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def measure(name, load, encode_one, encode_batch, texts, document, repeats):
    load_times = timed(load, repeats)
    load_cpu = timed(load, repeats, time.process_time)
    tok = load()
    size = sum(len(t.encode()) for t in texts)
    cold = timed(lambda: [encode_one(tok, t) for t in texts], 1)[0]  # empty word cache
    per_call = timed(lambda: [encode_one(tok, t) for t in texts], repeats)
    batch = timed(lambda: encode_batch(tok, texts), repeats)
    long_text = timed(lambda: encode_one(tok, document), repeats)
    source = source_text()
    source_times = timed(lambda: encode_one(tok, source), repeats)
    # CPU time as well: the machine may be shared, and wall time then counts waiting too.
    batch_cpu = timed(lambda: encode_batch(tok, texts), repeats, time.process_time)
    source_cpu = timed(lambda: encode_one(tok, source), repeats, time.process_time)
    return {
        "tokenizer": name,
        "load_seconds_median": statistics.median(load_times),
        "load_seconds_min": min(load_times),
        "load_cpu_seconds_median": statistics.median(load_cpu),
        "corpus_bytes": size,
        "encode_mb_per_s_first_pass": size / 1e6 / cold,
        "encode_mb_per_s_per_call_median": size / 1e6 / statistics.median(per_call),
        "encode_mb_per_s_batch_median": size / 1e6 / statistics.median(batch),
        "encode_mb_per_s_one_document_median":
            len(document.encode()) / 1e6 / statistics.median(long_text),
        "source_bytes": len(source.encode()),
        "encode_mb_per_s_source_median": len(source.encode()) / 1e6 / statistics.median(source_times),
        "encode_mb_per_cpu_s_batch_median": size / 1e6 / statistics.median(batch_cpu),
        "encode_mb_per_cpu_s_source_median": len(source.encode()) / 1e6 / statistics.median(source_cpu),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    texts = corpus()
    document = "\n".join(texts)
    rows = [measure("yirage", lambda: yr.Tokenizer.from_file(str(TOKENIZER_DIR)),
                    lambda tok, t: tok.encode(t), lambda tok, ts: tok.encode_batch(ts), texts,
                    document, args.repeats)]
    try:
        import tokenizers
    except ImportError:
        tokenizers = None
    if tokenizers is not None:
        path = str(TOKENIZER_DIR / "tokenizer.json")
        rows.append(measure(
            "huggingface-tokenizers " + tokenizers.__version__,
            lambda: tokenizers.Tokenizer.from_file(path),
            lambda tok, t: tok.encode(t, add_special_tokens=False).ids,
            lambda tok, ts: [e.ids for e in tok.encode_batch(ts, add_special_tokens=False)],
            texts, document, args.repeats))
    cpu = yr.cpu_features()
    result = {
        "benchmark": "tokenizer",
        "machine": {"cpu": cpu.model, "hardware_threads": cpu.hardware_threads,
                    "load_average": os.getloadavg()[0]},
        "notes": "Single thread. The corpus is tests/llm/tokenizer_corpus.py (1,174 strings, many "
                 "scripts, emoji, code, random UTF-8); per_call encodes each string with one "
                 "call, batch with one call for all, one_document the corpus joined by newlines; "
                 "source is English prose and C++ (the repository's *.md and src/yirage/**/*.h, "
                 "one call).",
        "rows": rows,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
