"""KernelGraph.superoptimize from Python: the optimized program and its report, the cache,
progress, KeyboardInterrupt, the GIL, and errors."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import ugraph_programs
import yirage as yr

REPORT_KEYS = {
    "states", "pruned", "verified", "rejected", "frames", "kernels_before", "kernels_after",
    "original_cost", "best_cost", "improved", "cancelled", "budget_exhausted", "cache_hit",
    "search_seconds", "seconds", "summary", "derived", "derived_verified", "fragments", "profiled",
    "original_seconds", "best_seconds",
}


def naive_rms_norm_matmul():
    naive, _ = ugraph_programs.rms_norm_matmul(4, 128, 256)
    return naive


def random_inputs(graph, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.1, 1.0, size=t.dims).astype(np.float32) for t in graph.input_types]


def test_finds_rms_norm_matmul_as_one_verified_kernel(tmp_path):
    naive = naive_rms_norm_matmul()
    opt = naive.superoptimize(backend="reference", time_budget=60, seed=0, cache_dir=tmp_path,
                              max_verified=1)
    report = opt.report()
    assert set(report) == REPORT_KEYS
    assert report["improved"], report["summary"]
    assert not report["cache_hit"] and not report["cancelled"]
    assert report["kernels_before"] == 2 and report["kernels_after"] == 1
    assert report["best_cost"] < report["original_cost"]
    assert report["verified"] >= 1 and report["states"] > 0
    assert "Chose a verified program of 1 kernel(s)" in report["summary"]
    assert isinstance(opt, yr.OptimizedProgram)
    assert isinstance(opt.graph, yr.KernelGraph)
    assert yr.verify(naive, opt.graph)
    assert repr(opt) == "<OptimizedProgram: 2 -> 1 kernels, improved>"

    (kernel,) = opt.kernels
    assert kernel.op == "customized"
    assert isinstance(kernel.block_graph, yr.BlockGraph)
    assert [t.dims for t in kernel.inputs] == [(4, 128), (128,), (128, 256)]
    assert [t.dims for t in kernel.outputs] == [(4, 256)]
    assert "customized(%0, %1, %2)" in str(kernel)
    assert "output_map" in kernel.text

    # Callable like the graph, with the same results.
    inputs = random_inputs(naive)
    (expected,) = naive(inputs=inputs, backend="reference")
    (got,) = opt(inputs=inputs, backend="reference")
    np.testing.assert_allclose(got, expected, rtol=1e-5)

    # to_json gives a graph that loads back to the same program.
    loaded = yr.graph_from_json(opt.to_json())
    assert loaded.fingerprint() == opt.graph.fingerprint()


def test_a_second_run_comes_from_the_cache(tmp_path):
    naive = naive_rms_norm_matmul()
    first = naive.superoptimize(cache_dir=tmp_path, max_verified=1)
    assert len(list(tmp_path.glob("*.json"))) == 1
    second = naive.superoptimize(cache_dir=tmp_path, max_verified=1)
    report = second.report()
    assert report["cache_hit"]
    assert report["improved"] and report["kernels_after"] == 1
    assert second.graph.fingerprint() == first.graph.fingerprint()
    assert report["states"] == first.report()["states"]
    assert report["summary"].startswith("From the cache (sealed when verified)")
    assert report["seconds"] < first.report()["seconds"]
    assert "from the cache" in repr(second)
    assert yr.verify(naive, second.graph)

    # Another graph misses; cache=False searches again.
    other, _ = ugraph_programs.rms_norm_matmul(4, 128, 128)
    assert not other.superoptimize(cache_dir=tmp_path, max_verified=1).report()["cache_hit"]
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert not naive.superoptimize(cache=False, max_verified=1).report()["cache_hit"]


def test_cache_directory_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("YIRAGE_CACHE_DIR", str(tmp_path / "env-cache"))
    naive = naive_rms_norm_matmul()
    naive.superoptimize(max_verified=1)
    assert len(list((tmp_path / "env-cache").glob("*.json"))) == 1
    assert naive.superoptimize(max_verified=1).report()["cache_hit"]


def test_corrupt_entry_is_ignored(tmp_path):
    naive = naive_rms_norm_matmul()
    naive.superoptimize(cache_dir=tmp_path, max_verified=1)
    (entry,) = tmp_path.glob("*.json")
    entry.write_text("{ not json")
    opt = naive.superoptimize(cache_dir=tmp_path, max_verified=1)
    assert opt.report()["improved"] and not opt.report()["cache_hit"]
    assert naive.superoptimize(cache_dir=tmp_path, max_verified=1).report()["cache_hit"]


def test_progress_is_reported_to_the_end(tmp_path):
    naive = naive_rms_norm_matmul()
    seen = []
    opt = naive.superoptimize(cache=False, max_verified=1, progress=seen.append)
    assert seen and all(isinstance(p, yr.SearchProgress) for p in seen)
    states = [p.states for p in seen]
    assert states == sorted(states)
    assert seen[-1].states == opt.report()["states"]
    assert seen[-1].verified == opt.report()["verified"]
    assert "SearchProgress(states=" in repr(seen[-1])


def test_keyboard_interrupt_in_progress_returns_the_best_so_far(tmp_path):
    naive = naive_rms_norm_matmul()

    def interrupt(progress):
        raise KeyboardInterrupt

    opt = naive.superoptimize(cache_dir=tmp_path, progress=interrupt)
    report = opt.report()
    assert report["cancelled"] and not report["budget_exhausted"]
    assert not report["improved"]  # interrupted at the first report, before any candidate
    assert report["summary"].startswith("Cancelled; the best verified result so far.")
    assert "the result is the input graph, unchanged" in report["summary"]
    assert opt.graph.fingerprint() == naive.fingerprint()
    assert "cancelled" in repr(opt)
    assert list(tmp_path.glob("*.json")) == []  # a cancelled search is not cached


def test_ctrl_c_stops_the_search(tmp_path):
    # A search far longer than the test: attention with QK-norm, pruning off.
    naive, _ = ugraph_programs.attention_decode(2, 4, 64, 16, qk_norm=True, splits=1)
    # Python's own handler, also when the runner inherited SIGINT ignored (a background job).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        opt = naive.superoptimize(time_budget=120, cache=False, prune=False)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 20
    report = opt.report()
    assert report["cancelled"], report["summary"]
    assert yr.verify(naive, opt.graph)


def test_other_exceptions_from_progress_propagate():
    naive = naive_rms_norm_matmul()

    def fail(progress):
        raise ValueError("progress display broke")

    start = time.monotonic()
    with pytest.raises(ValueError, match="progress display broke"):
        naive.superoptimize(cache=False, progress=fail)
    assert time.monotonic() - start < 10  # the search stopped at the error


def test_the_gil_is_released_during_the_search():
    naive = naive_rms_norm_matmul()
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(opt=naive.superoptimize(cache=False, max_verified=1)))
    ticks = 0
    worker.start()
    while worker.is_alive():
        ticks += 1
        time.sleep(0.005)
    worker.join()
    assert result["opt"].report()["improved"]
    seconds = result["opt"].report()["seconds"]
    assert ticks > seconds / 0.005 / 4, (ticks, seconds)


def test_budget_exhausted_returns_the_graph(tmp_path):
    naive = naive_rms_norm_matmul()
    opt = naive.superoptimize(cache_dir=tmp_path, state_budget=5, derive=False)
    report = opt.report()
    assert report["budget_exhausted"] and not report["improved"]
    assert report["kernels_after"] == report["kernels_before"] == 2
    assert opt.graph.fingerprint() == naive.fingerprint()
    assert [k.op for k in opt.kernels] == ["rms_norm", "matmul"]
    assert all(k.block_graph is None for k in opt.kernels)
    inputs = random_inputs(naive)
    np.testing.assert_array_equal(opt(inputs)[0], naive(inputs)[0])
    assert list(tmp_path.glob("*.json")) == []


def test_errors():
    naive = naive_rms_norm_matmul()
    with pytest.raises(yr.UserError, match="unknown backend 'nope'; known backends: reference"):
        naive.superoptimize(backend="nope")
    with pytest.raises(yr.UserError, match="backend 'mps' is not available"):
        naive.superoptimize(backend="mps")
    with pytest.raises(yr.UserError, match="time budget 0 s is not positive"):
        naive.superoptimize(time_budget=0)
    with pytest.raises(yr.UserError, match="progress is a int; expected a callable"):
        naive.superoptimize(progress=3)
    empty = yr.new_kernel_graph()
    empty.new_input(dims=(4,), dtype=yr.float32)
    with pytest.raises(yr.UserError, match="no outputs"):
        empty.superoptimize()
