"""The check every uGraph example ends with: verify, then run both graphs and compare."""

import time

import numpy as np

import yirage as yr


def verify_and_compare(naive, fused, inputs):
    """Verifies `fused` against `naive`, then runs both on the reference backend with `inputs`."""
    result = yr.verify(naive, fused)
    print(f"verify: equivalent={result.equivalent}, method '{result.method}', "
          f"{result.seconds * 1e3:.1f} ms, float max_rel_error {result.max_rel_error:.2e}")
    if not result:
        raise SystemExit(f"not equivalent: {result.reason}")
    # The reference backend computes in float64 and rounds once, at each graph output, so the two
    # agree to the last bit unless their float64 results straddle a rounding boundary.
    start = time.perf_counter()
    (expected,) = naive(inputs=inputs, backend="reference")
    (actual,) = fused(inputs=inputs, backend="reference")
    seconds = time.perf_counter() - start
    expected64, actual64 = expected.astype(np.float64), actual.astype(np.float64)
    print(f"reference backend: naive and fused outputs {actual.shape} {actual.dtype}, max difference "
          f"{np.abs(actual64 - expected64).max():.3e} (largest |output| {np.abs(expected64).max():.3f}; "
          f"both runs {seconds:.2f} s)")
