#!/usr/bin/env python3
"""Converts a Qwen3 checkpoint directory (Hugging Face layout) to one GGUF file.

Reads config.json, model.safetensors (or the shards listed in model.safetensors.index.json) and
tokenizer.json / tokenizer_config.json, and writes a GGUF file of architecture "qwen3" with the
`gguf` package: the hyper-parameters, every weight under its GGUF name, and the tokenizer as a
byte-level BPE vocabulary ("gpt2" model, "qwen2" pre-tokenizer) with token types, merges and
special token ids.

Matrices keep their stored dtype (bfloat16, float16 or float32); one-dimensional tensors (the
RMSNorm weights) are written as float32, which holds bfloat16 and float16 values exactly.

    python3 bench/gguf_from_checkpoint.py CHECKPOINT_DIR OUT.gguf

Needs numpy and gguf (PyPI); safetensors is parsed here, so the `safetensors` package is not.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

ARCH = "qwen3"

# Per-layer weight names: Hugging Face suffix after "model.layers.N." -> GGUF name after "blk.N.".
LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}

GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}

# safetensors dtype -> (numpy dtype of the raw elements, element size in bytes).
SAFETENSORS_DTYPES = {
    "F32": (np.float32, 4),
    "F16": (np.float16, 2),
    "BF16": (np.uint16, 2),
}


class ConversionError(Exception):
    """Input that cannot be converted: the message says what was wrong and what was expected."""


def read_safetensors(path: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Maps every tensor of one .safetensors file to (dtype name, array of its raw elements).

    The arrays are memory-mapped views; bfloat16 tensors are uint16 arrays of their bits.
    """
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise ConversionError(f"{path}: too short for a safetensors file")
        (header_size,) = struct.unpack("<Q", prefix)
        header = json.loads(f.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = entry["dtype"]
        if dtype not in SAFETENSORS_DTYPES:
            raise ConversionError(
                f"{path}: tensor {name} has dtype {dtype}; expected one of "
                f"{', '.join(SAFETENSORS_DTYPES)}")
        np_dtype, size = SAFETENSORS_DTYPES[dtype]
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if end - begin != size * int(np.prod(shape, dtype=np.int64)):
            raise ConversionError(f"{path}: tensor {name} has {end - begin} bytes for shape {shape}")
        tensors[name] = (dtype, data[begin:end].view(np_dtype).reshape(shape))
    return tensors


def read_checkpoint_tensors(directory: Path) -> dict[str, tuple[str, np.ndarray]]:
    """All tensors of a checkpoint directory: one model.safetensors or an indexed set of shards."""
    single = directory / "model.safetensors"
    if single.is_file():
        return read_safetensors(single)
    index = directory / "model.safetensors.index.json"
    if not index.is_file():
        raise ConversionError(
            f"{directory}: no model.safetensors or model.safetensors.index.json")
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    tensors: dict[str, tuple[str, np.ndarray]] = {}
    for shard in shards:
        tensors.update(read_safetensors(directory / shard))
    return tensors


def gguf_tensor_name(hf_name: str, num_layers: int) -> str:
    """The GGUF name of a Hugging Face Qwen3 weight name."""
    if hf_name in GLOBAL_TENSORS:
        return GLOBAL_TENSORS[hf_name]
    parts = hf_name.split(".", 3)
    if len(parts) == 4 and parts[0] == "model" and parts[1] == "layers" and parts[2].isdigit():
        layer = int(parts[2])
        if layer < num_layers and parts[3] in LAYER_TENSORS:
            return f"blk.{layer}.{LAYER_TENSORS[parts[3]]}"
    raise ConversionError(f"tensor {hf_name} is not part of a Qwen3 checkpoint")


def tokenizer_vocabulary(directory: Path, vocab_size: int):
    """(tokens, token types, merges, special ids) from tokenizer.json and tokenizer_config.json."""
    import gguf

    tokenizer = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    model = tokenizer["model"]
    if model.get("type") != "BPE":
        raise ConversionError(f"tokenizer.json: model type {model.get('type')}; expected BPE")
    by_id: dict[int, tuple[str, int]] = {}
    for text, token_id in model["vocab"].items():
        by_id[token_id] = (text, gguf.TokenType.NORMAL)
    for added in tokenizer.get("added_tokens", []):
        kind = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
        by_id[added["id"]] = (added["content"], kind)
    if max(by_id) >= vocab_size:
        raise ConversionError(
            f"tokenizer has id {max(by_id)}, beyond the model's vocab_size {vocab_size}")
    tokens, types = [], []
    for token_id in range(vocab_size):
        text, kind = by_id.get(token_id, (f"[PAD{token_id}]", gguf.TokenType.UNUSED))
        tokens.append(text)
        types.append(int(kind))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]

    special = {}
    config_path = directory / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    ids_of = {text: token_id for token_id, (text, _) in by_id.items()}
    for role in ("bos", "eos", "pad"):
        value = tokenizer_config.get(f"{role}_token")
        if isinstance(value, dict):
            value = value.get("content")
        if value is not None and value in ids_of:
            special[role] = ids_of[value]
    return tokens, types, merges, special, tokenizer_config


def convert(directory: Path, out: Path) -> dict:
    """Writes OUT from the checkpoint in DIRECTORY; returns a summary (counts, dtypes, sizes)."""
    import gguf

    config = json.loads((directory / "config.json").read_text())
    if config.get("model_type") != "qwen3":
        raise ConversionError(
            f"{directory}/config.json: model_type {config.get('model_type')!r}; expected 'qwen3'")
    num_layers = int(config["num_hidden_layers"])
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or hidden // heads)
    vocab_size = int(config["vocab_size"])
    tied = bool(config.get("tie_word_embeddings", False))

    tensors = read_checkpoint_tensors(directory)
    if tied:
        tensors.pop("lm_head.weight", None)
    elif "lm_head.weight" not in tensors:
        raise ConversionError("tie_word_embeddings is false but the checkpoint has no lm_head.weight")
    matrix_dtypes = {tensors[n][0] for n in tensors if tensors[n][1].ndim == 2}
    if len(matrix_dtypes) != 1:
        raise ConversionError(f"matrices mix dtypes {sorted(matrix_dtypes)}; expected one")
    matrix_dtype = matrix_dtypes.pop()
    file_type = {
        "F32": gguf.LlamaFileType.ALL_F32,
        "F16": gguf.LlamaFileType.MOSTLY_F16,
        "BF16": gguf.LlamaFileType.MOSTLY_BF16,
    }[matrix_dtype]

    writer = gguf.GGUFWriter(str(out), ARCH)
    writer.add_name(directory.name)
    writer.add_file_type(int(file_type))
    writer.add_context_length(int(config.get("max_position_embeddings", 40960)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(num_layers)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(int(config.get("num_key_value_heads", heads)))
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_freq_base(float(config.get("rope_theta", 10000.0)))
    if config.get("rope_scaling"):
        raise ConversionError("rope_scaling is set; this converter handles plain RoPE only")

    tokens, types, merges, special, tokenizer_config = tokenizer_vocabulary(directory, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    bos = special.get("bos", config.get("bos_token_id"))
    eos = special.get("eos", config.get("eos_token_id"))
    pad = special.get("pad", bos)
    if isinstance(eos, list):
        eos = eos[0]
    if bos is not None:
        writer.add_bos_token_id(int(bos))
    if eos is not None:
        writer.add_eos_token_id(int(eos))
    if pad is not None:
        writer.add_pad_token_id(int(pad))
    writer.add_add_bos_token(bool(tokenizer_config.get("add_bos_token", False)))
    if isinstance(tokenizer_config.get("chat_template"), str):
        writer.add_chat_template(tokenizer_config["chat_template"])

    raw_types = {"BF16": gguf.GGMLQuantizationType.BF16}
    written = 0
    def order(hf_name: str) -> tuple[int, int, str]:
        # token_embd, then the blocks in layer order, then output_norm and output.
        name = gguf_tensor_name(hf_name, num_layers)
        if name.startswith("blk."):
            return (1, int(name.split(".")[1]), name)
        return (0 if name.startswith("token_embd") else 2, 0, name)

    for hf_name in sorted(tensors, key=order):
        dtype, array = tensors[hf_name]
        name = gguf_tensor_name(hf_name, num_layers)
        if array.ndim == 1:
            if dtype == "BF16":
                array = (array.astype(np.uint32) << 16).view(np.float32)
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
        else:
            writer.add_tensor(name, np.ascontiguousarray(array), raw_dtype=raw_types.get(dtype))
        written += 1
    expected = 2 + len(LAYER_TENSORS) * num_layers + (0 if tied else 1)
    if written != expected:
        raise ConversionError(f"checkpoint has {written} Qwen3 tensors; expected {expected}")

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {
        "tensors": written,
        "matrix_dtype": matrix_dtype,
        "tied_embeddings": tied,
        "vocab": len(tokens),
        "merges": len(merges),
        "bytes": out.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="checkpoint directory (config.json, ...)")
    parser.add_argument("out", type=Path, help="GGUF file to write")
    args = parser.parse_args(argv)
    try:
        summary = convert(args.checkpoint, args.out)
    except (ConversionError, OSError, KeyError, ValueError) as error:
        print(f"gguf_from_checkpoint: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {summary['tensors']} tensors ({summary['matrix_dtype']}), "
          f"vocab {summary['vocab']}, {summary['merges']} merges, {summary['bytes']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
