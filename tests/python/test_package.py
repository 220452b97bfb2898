"""The package surface: version, dtypes, CPU features."""

import importlib.metadata
import re

import ml_dtypes
import numpy as np

import yirage as yr


def test_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", yr.__version__)
    try:  # an installed wheel: the package metadata and the C++ library agree
        installed = importlib.metadata.version("yirage")
    except importlib.metadata.PackageNotFoundError:
        return  # imported from a build tree
    assert installed == yr.__version__


def test_dtypes():
    assert [d.name for d in yr.DType] == ["float32", "float16", "bfloat16", "int32", "int64"]
    assert [yr.float32, yr.float16, yr.bfloat16, yr.int32, yr.int64] == list(yr.DType)
    assert [d.itemsize for d in yr.DType] == [4, 2, 2, 4, 8]
    assert [d.is_float for d in yr.DType] == [True, True, True, False, False]
    assert yr.numpy_dtype(yr.bfloat16) == np.dtype(ml_dtypes.bfloat16)
    assert yr.numpy_dtype(yr.int64) == np.dtype(np.int64)


def test_error_types():
    assert issubclass(yr.UserError, ValueError)
    assert issubclass(yr.InternalError, RuntimeError)
    assert not issubclass(yr.UserError, RuntimeError)


def test_cpu_features():
    cpu = yr.cpu_features()
    assert cpu.hardware_threads >= 1
    known = ["avx2", "avx512f", "avx512bw", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8"]
    assert cpu.features == [name for name in known if getattr(cpu, name)]
    assert "CpuFeatures(" in repr(cpu)
