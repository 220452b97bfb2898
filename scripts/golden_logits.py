#!/usr/bin/env python3
"""Golden logits of a Qwen3 checkpoint from Hugging Face transformers, as small JSON fixtures.

Loads CHECKPOINT (a directory written by `yirage make-demo-model`, or any Qwen3 checkpoint) with
transformers' Qwen3ForCausalLM in each requested dtype, runs a few prompts and writes one file
per dtype, OUT/<name>-<dtype>.json, holding for every prompt:

- the prompt text and its token ids (Hugging Face `tokenizers` on tokenizer.json),
- the 20 largest logits of the last position (ids and values) and the log-sum-exp of that row,
- a few full logit rows (first, middle and last positions), subsampled every `row_stride` ids,
- a greedy continuation of 8 tokens, recomputing the whole sequence at each step (no cache),
  with the gap between the best and second-best logit at each step.

Logits are computed on the CPU with the eager attention implementation, in float32 or bfloat16
(then widened to float32 for the file). The demo checkpoints hold bfloat16-representable values
in every dtype, so loading the bfloat16 file as float32 gives exactly the float32 demo model.

Usage (transformers and torch are needed; they are not part of yirage's CI):

    yirage make-demo-model /tmp/tiny --preset tiny --dtype bf16
    python3 scripts/golden_logits.py /tmp/tiny --name tiny --out tests/fixtures/qwen3-demo
"""

import argparse
import hashlib
import json
import os
import platform
import sys

PROMPTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n\n"
    "print([fibonacci(i) for i in range(10)])  # 0 1 1 2 3 5 8 13 21 34\n"
    "你好，世界。Grüße aus Köln! こんにちは 🌍🚀",
    "A",
]


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(checkpoint, dtype, torch, transformers):
    kwargs = {"attn_implementation": "eager"}
    try:
        model = transformers.Qwen3ForCausalLM.from_pretrained(checkpoint, dtype=dtype, **kwargs)
    except TypeError:  # transformers before the `dtype` keyword
        model = transformers.Qwen3ForCausalLM.from_pretrained(
            checkpoint, torch_dtype=dtype, **kwargs)
    model.eval()
    return model


def check_weights(model, checkpoint, dtype, torch):
    """Every tensor of the checkpoint must be in the model unchanged (nothing re-initialised)."""
    from safetensors.torch import load_file

    files = [name for name in sorted(os.listdir(checkpoint)) if name.endswith(".safetensors")]
    state = model.state_dict()
    checked = 0
    for file in files:
        for name, tensor in load_file(os.path.join(checkpoint, file)).items():
            if name not in state:
                sys.exit(f"{file}: tensor {name} is not a parameter of Qwen3ForCausalLM")
            if not torch.equal(state[name], tensor.to(dtype)):
                sys.exit(f"{file}: tensor {name} differs from the loaded parameter")
            checked += 1
    if model.config.tie_word_embeddings:
        if not torch.equal(model.lm_head.weight, model.model.embed_tokens.weight):
            sys.exit("the LM head is not tied to the embedding")
    return checked


def rope_theta(config):
    theta = getattr(config, "rope_theta", None)
    params = getattr(config, "rope_parameters", None)
    if theta is None and isinstance(params, dict):
        theta = params.get("rope_theta")
    return theta


def run_prompt(model, ids, torch, args):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    last = logits[-1]
    top = torch.topk(last, args.top)
    positions = sorted({0, len(ids) // 2, len(ids) - 1})
    record = {
        "ids": ids,
        "last_top_ids": top.indices.tolist(),
        "last_top_logits": top.values.tolist(),
        "last_logsumexp": torch.logsumexp(last.double(), 0).item(),
        "rows": {
            "stride": args.row_stride,
            "positions": positions,
            "values": [logits[p, :: args.row_stride].tolist() for p in positions],
        },
    }
    sequence = list(ids)
    greedy, margins = [], []
    with torch.no_grad():
        for _ in range(args.greedy_tokens):
            step = model(torch.tensor([sequence])).logits[0, -1].float()
            best = torch.topk(step, 2)
            token = int(best.indices[0])
            greedy.append(token)
            margins.append((best.values[0] - best.values[1]).item())
            sequence.append(token)
    record["greedy_ids"] = greedy
    record["greedy_margins"] = margins
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="checkpoint directory (config.json, *.safetensors)")
    parser.add_argument("--tokenizer", help="directory of tokenizer.json (default: checkpoint)")
    parser.add_argument("--name", default="tiny", help="fixture name prefix")
    parser.add_argument("--out", required=True, help="directory for the JSON fixtures")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--row-stride", type=int, default=1009)
    parser.add_argument("--greedy-tokens", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    import tokenizers
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    tokenizer_dir = args.tokenizer or args.checkpoint
    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    prompts = [(text, tokenizer.encode(text, add_special_tokens=False).ids) for text in PROMPTS]
    weights = sorted(f for f in os.listdir(args.checkpoint) if f.endswith(".safetensors"))
    with open(os.path.join(args.checkpoint, "config.json")) as handle:
        config_json = json.load(handle)
    os.makedirs(args.out, exist_ok=True)

    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        model = load_model(args.checkpoint, dtype, torch, transformers)
        checked = check_weights(model, args.checkpoint, dtype, torch)
        theta = rope_theta(model.config)
        if theta is None or abs(theta - config_json["rope_theta"]) > 1e-9 * config_json["rope_theta"]:
            sys.exit(f"transformers read rope_theta {theta}; config.json has "
                     f"{config_json['rope_theta']}")
        fixture = {
            "generator": "scripts/golden_logits.py",
            "model": "Qwen3ForCausalLM (transformers, eager attention, CPU)",
            "versions": {
                "transformers": transformers.__version__,
                "torch": torch.__version__,
                "tokenizers": tokenizers.__version__,
                "python": platform.python_version(),
            },
            "machine": platform.machine(),
            "checkpoint": {
                "name": args.name,
                "files": {f: sha256_of(os.path.join(args.checkpoint, f)) for f in weights},
                "stored_dtype": config_json.get("torch_dtype", config_json.get("dtype")),
                "tensors_checked": checked,
                "rope_theta": theta,
            },
            "compute_dtype": dtype_name,
            "prompts": [],
        }
        for text, ids in prompts:
            record = {"text": text}
            record.update(run_prompt(model, ids, torch, args))
            fixture["prompts"].append(record)
            print(f"{dtype_name}: {len(ids):3d} ids, top {record['last_top_ids'][:3]} "
                  f"greedy {record['greedy_ids']} min margin "
                  f"{min(record['greedy_margins']):.4f}", flush=True)
        path = os.path.join(args.out, f"{args.name}-{dtype_name}.json")
        with open(path, "w") as handle:
            json.dump(fixture, handle, indent=1)
            handle.write("\n")
        print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
