"""The Python face of the kernel graph: yirage._core.KernelGraph plus running and optimizing it."""

from . import _core
from ._arrays import cuda_torch_streams, finish_outputs, prepare_inputs
from ._core import UserError


class KernelGraph(_core.KernelGraph):
    """A kernel graph: inputs, one method per op, marked outputs; call it to run it."""

    def __call__(self, inputs, backend="reference", *, dlpack=False):
        """Runs the graph on `backend` and returns its outputs in marked order.

        `inputs` holds one array per graph input, matching its shape and dtype: NumPy arrays
        (ml_dtypes.bfloat16 for bfloat16) or DLPack tensors such as torch.Tensor, with any
        strides. Outputs are NumPy arrays, or torch tensors when an input was one; either way
        they view the result memory without a copy. With `dlpack=True`, or when an output lives
        on a GPU and no input was a torch tensor, outputs are DLPack objects (`__dlpack__`,
        `__dlpack_device__`, every dtype as itself) for torch.from_dlpack, np.from_dlpack and
        the like.

        On `backend="cuda"` (or "cudnn"), CUDA tensors are read and written in place, without
        host copies; the work is ordered after what the legacy default stream (and a torch
        input's current stream) queued before the call, and later work there sees the outputs.
        """
        if not isinstance(inputs, (list, tuple)):
            raise UserError(f"inputs is a {type(inputs).__name__}; expected a list with one "
                            f"array per graph input ({self.num_inputs})")
        arrays, declared, torch_inputs = prepare_inputs(inputs)
        streams = cuda_torch_streams(inputs) if torch_inputs else None
        if streams is not None:
            streams[1].wait_stream(streams[0])  # the inputs, before yirage's work
        outputs = _core._run(self, arrays, declared, backend, torch_inputs or dlpack)
        if streams is not None:
            streams[0].wait_stream(streams[1])  # the outputs, before the caller's next work
        return finish_outputs(outputs, self.output_types, torch_inputs)

    def superoptimize(self, backend="reference", time_budget=30.0, seed=0, cache=True,
                      progress=None, *, cache_dir=None, state_budget=None, prune=True,
                      max_block_ops=None, max_verified=None, derive=True):
        """Searches a fused program computing what this graph computes; returns an
        OptimizedProgram.

        Every program the search returns is verified against this graph; when nothing better
        is found within `time_budget` seconds (or `state_budget` states), the result is this
        graph, unchanged, and the report says so. `seed` seeds verification (the search order
        is deterministic). With `cache`, a result stored by an earlier search of the same graph,
        backend, device and search configuration (in `cache_dir`, by default $YIRAGE_CACHE_DIR
        or ~/.cache/yirage) is returned without searching, after checking its seal (it is the
        program the search verified and stored). `progress`, when
        given, is called about every 0.1 s with a SearchProgress (states, pruned, verified,
        rejected, seconds) and once at the end. The GIL is released while the search runs;
        Ctrl-C (KeyboardInterrupt) stops it and returns the best verified result so far, with
        report()["cancelled"] set. `prune=False` turns abstract-expression pruning off;
        `derive=False` leaves out the streaming forms derived by lowering (depth-first search only).

        On a backend that can profile (`"cuda"`, `"cudnn"` with a GPU; `"cpu"`, `"mkl"`), the
        cheapest verified candidates and the input graph are timed on that backend's device
        and the fastest is kept; the report's `profiled` counts them.
        """
        program = KernelGraph()
        report = _core._superoptimize(self, program, backend, float(time_budget), seed, cache,
                                      "" if cache_dir is None else str(cache_dir), progress,
                                      state_budget, prune, max_block_ops, max_verified,
                                      derive)
        return OptimizedProgram(program, report)


class Kernel:
    """One kernel of a program.

    Attributes: `op`, the op's name ('customized' for a fused kernel); `inputs` and `outputs`,
    their types (TensorType) in order; `block_graph`, a copy of a customized kernel's block
    graph (None for other ops); `text`, the kernel alone as a one-kernel graph in text, block
    graph included (also what str() gives).
    """

    def __init__(self, op, inputs, outputs, block_graph, text):
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.block_graph = block_graph
        self.text = text

    def __str__(self):
        return self.text

    def __repr__(self):
        inputs = ", ".join(repr(t) for t in self.inputs)
        outputs = ", ".join(repr(t) for t in self.outputs)
        return f"Kernel({self.op}: ({inputs}) -> ({outputs}))"


class OptimizedProgram:
    """The result of KernelGraph.superoptimize: a program verified to compute what the graph
    computes (or the graph itself when the search found nothing better), and the report."""

    def __init__(self, graph, report):
        self._graph = graph
        self._report = report

    @property
    def graph(self):
        """The program as a KernelGraph."""
        return self._graph

    def __call__(self, inputs, backend="reference", *, dlpack=False):
        """Runs the program on `backend`, taking and returning what the graph does."""
        return self._graph(inputs, backend=backend, dlpack=dlpack)

    @property
    def kernels(self):
        """The program's kernels, in order, as Kernel objects."""
        return [Kernel(*fields) for fields in _core._kernels(self._graph)]

    def report(self):
        """What the search did, as a dict: states, pruned, verified, rejected, frames,
        kernels_before, kernels_after, original_cost, best_cost (cost-model estimates in
        microseconds), improved, cancelled, budget_exhausted, cache_hit, search_seconds (the
        search's time), seconds (this call's wall time; a cache hit: lookup and seal check),
        derived and derived_verified (streaming forms lowered into frames, and how many
        verified), fragments (pieces of a partitioned graph; 0 when searched whole), profiled
        (candidates timed on a backend that can profile), original_seconds and best_seconds
        (their measured times: the input graph's and the chosen program's; 0 when nothing was
        timed) and summary (plain words)."""
        return dict(self._report)

    def to_json(self, indent=2):
        """The program as versioned JSON; yr.graph_from_json gives back an equal graph."""
        return self._graph.to_json(indent)

    def __str__(self):
        return str(self._graph)

    def __repr__(self):
        r = self._report
        status = "improved" if r["improved"] else "unchanged"
        if r["cache_hit"]:
            status += ", from the cache"
        if r["cancelled"]:
            status += ", cancelled"
        return (f"<OptimizedProgram: {r['kernels_before']} -> {r['kernels_after']} kernels, "
                f"{status}>")


def new_kernel_graph():
    """An empty kernel graph."""
    return KernelGraph()


def graph_from_json(text):
    """The graph that `KernelGraph.to_json` wrote as `text`; every shape is checked again."""
    graph = KernelGraph()
    graph._load_json(text)
    return graph
