"""The Python face of the kernel graph: yirage._core.KernelGraph plus running it."""

from . import _core
from ._arrays import finish_outputs, prepare_inputs
from ._core import UserError


class KernelGraph(_core.KernelGraph):
    """A kernel graph: inputs, one method per op, marked outputs; call it to run it."""

    def __call__(self, inputs, backend="reference"):
        """Runs the graph on `backend` and returns its outputs in marked order.

        `inputs` holds one array per graph input, matching its shape and dtype: NumPy arrays
        (ml_dtypes.bfloat16 for bfloat16) or DLPack tensors such as torch.Tensor, with any
        strides. Outputs are NumPy arrays, or torch tensors when an input was one; either way
        they view the result memory without a copy.
        """
        if not isinstance(inputs, (list, tuple)):
            raise UserError(f"inputs is a {type(inputs).__name__}; expected a list with one "
                            f"array per graph input ({self.num_inputs})")
        arrays, declared, torch_inputs = prepare_inputs(inputs)
        outputs = _core._run(self, arrays, declared, backend, torch_inputs)
        return finish_outputs(outputs, self.output_types, torch_inputs)


def new_kernel_graph():
    """An empty kernel graph."""
    return KernelGraph()


def graph_from_json(text):
    """The graph that `KernelGraph.to_json` wrote as `text`; every shape is checked again."""
    graph = KernelGraph()
    graph._load_json(text)
    return graph
