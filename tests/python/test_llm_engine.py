"""yirage.LLM and SamplingParams on the tiny demo checkpoint."""

import pytest

import yirage as yr


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The tiny demo checkpoint (deterministic random weights, the real Qwen3 tokenizer)."""
    return yr.make_demo_model(str(tmp_path_factory.mktemp("demo") / "tiny"), "tiny", "float32")


@pytest.fixture(scope="module")
def llm(checkpoint):
    return yr.LLM(checkpoint, kv_cache_mb=16)  # cpu when available, else reference


def test_generate_returns_vllm_shaped_outputs(llm):
    params = yr.SamplingParams(temperature=0.0, max_tokens=6, ignore_eos=True)
    (output,) = llm.generate(["Hello, world"], params)
    assert output.prompt == "Hello, world"
    assert output.prompt_token_ids == llm._engine.encode("Hello, world")
    completion = output.outputs[0]
    assert len(completion.token_ids) == 6
    assert completion.finish_reason == "length"
    assert isinstance(completion.text, str)
    times = output.timings["token_times_s"]
    assert len(times) == 6 and times == sorted(times)
    assert output.timings["first_token_s"] == times[0]


def test_batch_matches_one_at_a_time(llm):
    prompts = ["The capital of France is", "1 2 3", "def f(x):\n    return"]
    params = yr.SamplingParams(temperature=0.0, max_tokens=5, ignore_eos=True)
    batched = llm.generate(prompts, params)
    for prompt, output in zip(prompts, batched):
        (alone,) = llm.generate(prompt, params)
        assert output.outputs[0].token_ids == alone.outputs[0].token_ids
        assert output.outputs[0].text == alone.outputs[0].text


def test_seeded_sampling_repeats(llm):
    params = yr.SamplingParams(temperature=1.0, top_k=50, top_p=0.9, seed=7, max_tokens=8,
                               ignore_eos=True)
    first = llm.generate("Once upon a time", params)[0].outputs[0].token_ids
    again = llm.generate("Once upon a time", params)[0].outputs[0].token_ids
    assert first == again


def test_stop_strings_cut_the_text_and_streaming_adds_up(llm):
    params = yr.SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)
    text = llm.generate("abc", params)[0].outputs[0].text
    assert len(text) >= 4
    stop = text[2:4]
    params.stop = [stop]
    pieces = []
    (output,) = llm.generate("abc", params,
                             stream=lambda request, token, piece, done: pieces.append(piece))
    completion = output.outputs[0]
    assert completion.text == text[:text.find(stop)]
    assert completion.finish_reason == "stop"
    assert "".join(pieces) == completion.text


def test_token_id_prompts(llm):
    params = yr.SamplingParams(temperature=0.0, max_tokens=3, ignore_eos=True)
    ids = llm._engine.encode("Hello")
    assert llm.generate([ids], params)[0].outputs[0].token_ids == \
        llm.generate("Hello", params)[0].outputs[0].token_ids


def test_bad_input_raises_user_errors(llm, checkpoint, tmp_path):
    with pytest.raises(yr.UserError, match="temperature"):
        yr.SamplingParams(temperature=-1.0)
    with pytest.raises(yr.UserError, match="at most 40959 tokens"):
        llm.generate([[1] * 40960], yr.SamplingParams(max_tokens=1))
    with pytest.raises(yr.UserError, match="KV cache"):
        llm.generate([[1] * 40000], yr.SamplingParams(max_tokens=1))
    with pytest.raises(yr.UserError, match="config.json"):
        yr.LLM(tmp_path, backend="reference")
    with pytest.raises(yr.UserError, match="no-such-backend"):
        yr.LLM(checkpoint, backend="no-such-backend")

