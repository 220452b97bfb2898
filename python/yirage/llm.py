"""Text generation with Qwen3 checkpoints, shaped like vLLM's offline API.

::

    import yirage as yr

    llm = yr.LLM("path/to/checkpoint", backend="cpu")
    outputs = llm.generate(["The capital of France is"],
                           yr.SamplingParams(temperature=0.0, max_tokens=32))
    for output in outputs:
        print(output.prompt, output.outputs[0].text, output.outputs[0].token_ids)
"""

from dataclasses import dataclass, field

from . import _core
from ._core import SamplingParams, UserError


@dataclass
class CompletionOutput:
    """One generated continuation."""

    index: int
    text: str
    token_ids: list
    finish_reason: str
    cumulative_logprob: float = None


@dataclass
class RequestOutput:
    """What one prompt produced: its continuation and when the tokens came."""

    request_id: str
    prompt: str
    prompt_token_ids: list
    outputs: list
    finished: bool = True
    timings: dict = field(default_factory=dict)


class LLM:
    """A Qwen3 checkpoint directory (config.json, safetensors weights, tokenizer.json) loaded
    for generation on a yirage backend ("cpu" when it is available, else "reference"; "cuda"
    keeps the weights, KV cache and activations on the GPU and replays decode steps as CUDA
    graphs)."""

    def __init__(self, model, backend=None, dtype=None, fused=False, kv_cache_mb=0,
                 max_batch=8, search_seconds=30.0):
        self.model = str(model)
        self._engine = _core._LLMEngine(self.model, backend=backend, dtype=dtype, fused=fused,
                                        search_seconds=search_seconds, kv_cache_mb=kv_cache_mb,
                                        max_batch=max_batch)

    @property
    def backend(self):
        """The backend running the model."""
        return self._engine.backend

    def default_sampling_params(self):
        """SamplingParams from the checkpoint's generation_config.json."""
        return self._engine.default_params()

    def generate(self, prompts, sampling_params=None, stream=None):
        """Continues each prompt (a string or a list of token ids; one prompt alone is fine).

        `sampling_params` is one SamplingParams for all prompts or a list with one per prompt
        (default: the checkpoint's generation defaults). `stream`, when given, is called as
        stream(request_index, token_id, text, finished) for every generated token. Returns one
        RequestOutput per prompt, in order.
        """
        single = isinstance(prompts, str) or (
            isinstance(prompts, (list, tuple)) and prompts and isinstance(prompts[0], int))
        if single:
            prompts = [prompts]
        if not isinstance(prompts, (list, tuple)):
            raise UserError(f"prompts is a {type(prompts).__name__}; expected a string, a list "
                            "of strings or a list of token-id lists")
        if sampling_params is None:
            sampling_params = self.default_sampling_params()
        params = list(sampling_params) if isinstance(sampling_params, (list, tuple)) else [
            sampling_params]
        results = self._engine.generate(list(prompts), params, stream)
        outputs = []
        for i, (prompt, result) in enumerate(zip(prompts, results)):
            completion = CompletionOutput(0, result["text"], result["token_ids"],
                                          result["finish_reason"])
            outputs.append(RequestOutput(str(i), prompt if isinstance(prompt, str) else None,
                                         result["prompt_token_ids"], [completion],
                                         timings=result["timings"]))
        return outputs


__all__ = ["LLM", "SamplingParams", "RequestOutput", "CompletionOutput"]
