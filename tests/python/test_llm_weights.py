"""Demo checkpoints from Python, checked against the golden logits of Hugging Face transformers.

A float64 NumPy evaluation of the Qwen3 equations on the tiny demo checkpoint reproduces the
committed fixtures (tests/fixtures/qwen3-demo), which ties the fixtures to the checkpoint that
yr.make_demo_model writes on any machine.
"""

import hashlib
import json
import os
import struct

import ml_dtypes
import numpy as np
import pytest

import yirage as yr

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "qwen3-demo")


def read_safetensors(path):
    with open(path, "rb") as handle:
        data = handle.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    types = {"BF16": ml_dtypes.bfloat16, "F16": np.float16, "F32": np.float32}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[8 + length + begin : 8 + length + end]
        tensors[name] = np.frombuffer(raw, dtype=types[entry["dtype"]]).reshape(entry["shape"])
    return header.get("__metadata__", {}), tensors


def rms_norm(x, weight, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * weight


def rope(x, theta):
    positions = np.arange(x.shape[0], dtype=np.float64)
    half = x.shape[-1] // 2
    angles = positions[:, None] * theta ** (-np.arange(half) / half)[None, :]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, second * cos + first * sin], -1)


def hidden_states(w, config, ids):
    """The final-norm output of every position, in float64, straight from the Qwen3 equations."""
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    dim, eps, theta = config["head_dim"], config["rms_norm_eps"], config["rope_theta"]
    steps = len(ids)
    x = w["model.embed_tokens.weight"][ids]
    mask = np.triu(np.full((steps, steps), -np.inf), 1)
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(steps, heads, dim)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(steps, kv_heads, dim)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(steps, kv_heads, dim)
        q = rope(rms_norm(q, w[p + "self_attn.q_norm.weight"], eps), theta)
        k = rope(rms_norm(k, w[p + "self_attn.k_norm.weight"], eps), theta)
        k, v = np.repeat(k, heads // kv_heads, 1), np.repeat(v, heads // kv_heads, 1)
        scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(dim) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attended = np.einsum("hts,shd->thd", scores, v).reshape(steps, heads * dim)
        x = x + attended @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    return rms_norm(x, w["model.norm.weight"], eps)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tiny"))
    assert yr.make_demo_model(directory, preset="tiny", dtype="bfloat16") == directory
    return directory


def test_demo_checkpoint_files(tiny):
    for name in ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                 "tokenizer_config.json"]:
        assert os.path.isfile(os.path.join(tiny, name)), name
    with open(os.path.join(tiny, "config.json")) as handle:
        config = json.load(handle)
    assert config["architectures"] == ["Qwen3ForCausalLM"]
    assert config["hidden_size"] == 64 and config["vocab_size"] == 151936
    metadata, tensors = read_safetensors(os.path.join(tiny, "model.safetensors"))
    assert metadata == {"format": "pt"}
    assert tensors["model.layers.1.mlp.down_proj.weight"].shape == (64, 128)
    assert "lm_head.weight" not in tensors  # tied


def test_fixtures_come_from_this_checkpoint(tiny):
    with open(os.path.join(tiny, "model.safetensors"), "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    for dtype in ["float32", "bfloat16"]:
        with open(os.path.join(FIXTURES, f"tiny-{dtype}.json")) as handle:
            fixture = json.load(handle)
        assert fixture["checkpoint"]["files"]["model.safetensors"] == digest


def test_dtypes_hold_the_same_values(tiny, tmp_path):
    yr.make_demo_model(str(tmp_path), preset="tiny", dtype=yr.float32)
    _, bf16 = read_safetensors(os.path.join(tiny, "model.safetensors"))
    _, f32 = read_safetensors(os.path.join(str(tmp_path), "model.safetensors"))
    for name, tensor in bf16.items():
        assert f32[name].dtype == np.float32
        np.testing.assert_array_equal(tensor.astype(np.float32), f32[name], err_msg=name)


def test_float64_qwen3_reproduces_the_transformers_logits(tiny):
    with open(os.path.join(tiny, "config.json")) as handle:
        config = json.load(handle)
    _, tensors = read_safetensors(os.path.join(tiny, "model.safetensors"))
    w = {name: tensor.astype(np.float64) for name, tensor in tensors.items()}
    head = w["model.embed_tokens.weight"]
    with open(os.path.join(FIXTURES, "tiny-float32.json")) as handle:
        fixture = json.load(handle)
    assert len(fixture["prompts"]) == 5
    for prompt in fixture["prompts"]:
        ids = prompt["ids"]
        states = hidden_states(w, config, ids)
        last = states[-1] @ head.T
        np.testing.assert_allclose(last[prompt["last_top_ids"]], prompt["last_top_logits"],
                                   atol=2e-5, rtol=0)
        assert list(np.argsort(-last, kind="stable")[:3]) == prompt["last_top_ids"][:3]
        rows = prompt["rows"]
        stride = rows["stride"]
        mine = states[rows["positions"]] @ head[::stride].T
        np.testing.assert_allclose(mine, rows["values"], atol=2e-5, rtol=0)
        top = last.max()
        assert abs(top + np.log(np.exp(last - top).sum()) - prompt["last_logsumexp"]) < 2e-5
    # The greedy continuation of the shortest prompt.
    prompt = min(fixture["prompts"], key=lambda p: len(p["ids"]))
    sequence = list(prompt["ids"])
    for expected in prompt["greedy_ids"]:
        token = int(np.argmax(hidden_states(w, config, sequence)[-1] @ head.T))
        assert token == expected
        sequence.append(token)


def test_bad_arguments_are_user_errors(tmp_path):
    with pytest.raises(yr.UserError, match="unknown demo preset 'huge'"):
        yr.make_demo_model(str(tmp_path), preset="huge")
    with pytest.raises(yr.UserError, match="int32"):
        yr.make_demo_model(str(tmp_path), dtype="int32")
    with pytest.raises(yr.UserError, match="no tokenizer.json"):
        yr.make_demo_model(str(tmp_path), tokenizer_dir=str(tmp_path))
