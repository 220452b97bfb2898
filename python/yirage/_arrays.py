"""Arrays in and out of yirage._core: NumPy (bfloat16 through ml_dtypes) and DLPack producers."""

import ml_dtypes
import numpy as np

from ._core import DType

_NUMPY_DTYPES = {
    DType.float32: np.dtype(np.float32),
    DType.float16: np.dtype(np.float16),
    DType.bfloat16: np.dtype(ml_dtypes.bfloat16),
    DType.int32: np.dtype(np.int32),
    DType.int64: np.dtype(np.int64),
}


def numpy_dtype(dtype):
    """The NumPy dtype of a yirage dtype (ml_dtypes.bfloat16 for yr.bfloat16)."""
    return _NUMPY_DTYPES[dtype]


def is_torch_tensor(value):
    """True for torch.Tensor and its subclasses, without importing torch."""
    return any(cls.__module__.split(".")[0] == "torch" and cls.__name__ == "Tensor"
               for cls in type(value).__mro__)


def _prepare_numpy(array):
    """The array C++ reads for `array`, and the dtype its bits stand for when NumPy cannot say."""
    if any(stride < 0 for stride in array.strides):
        array = np.ascontiguousarray(array)  # yirage views take non-negative strides only
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == _NUMPY_DTYPES[DType.bfloat16]:
        # NumPy's DLPack export refuses bfloat16: hand over the bits and say what they are.
        return array.view(np.uint16), DType.bfloat16
    return array, None


def prepare_inputs(inputs):
    """Returns (arrays, declared dtypes, whether outputs should be torch tensors)."""
    arrays, declared = [], []
    torch_inputs = False
    for value in inputs:
        if isinstance(value, np.ndarray):
            value, dtype = _prepare_numpy(value)
        elif is_torch_tensor(value):
            torch_inputs = True
            value, dtype = (value.detach() if value.requires_grad else value), None
            if value.is_cuda and not value.is_contiguous():
                value = value.contiguous()  # device kernels read dense memory
        else:
            dtype = None  # any other DLPack producer; C++ says what it cannot read
        arrays.append(value)
        declared.append(dtype)
    return arrays, declared, torch_inputs


def finish_outputs(outputs, types, torch_outputs):
    """NumPy arrays (bfloat16 viewed as ml_dtypes.bfloat16), torch tensors, or (for GPU memory
    and when asked for) DLPack objects, all sharing the result memory."""
    if torch_outputs:
        import torch

        return [torch.from_dlpack(output) for output in outputs]
    return [output.view(_NUMPY_DTYPES[DType.bfloat16])
            if isinstance(output, np.ndarray) and ttype.dtype == DType.bfloat16 else output
            for output, ttype in zip(outputs, types)]


def cuda_torch_streams(inputs):
    """(current, legacy default) torch streams when a CUDA torch input was made on a stream other
    than the legacy default one (which yirage's CUDA work is ordered with), else None."""
    if not any(is_torch_tensor(value) and value.is_cuda for value in inputs):
        return None
    import torch

    current, default = torch.cuda.current_stream(), torch.cuda.default_stream()
    return None if current == default else (current, default)
