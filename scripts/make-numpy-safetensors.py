#!/usr/bin/env python3
"""Writes tests/Caldera.Runtime.Tests/Formats/Fixtures/numpy-llama/: a tiny Hugging Face LlamaForCausalLM checkpoint
(config.json + model.safetensors) written with numpy alone, following the safetensors specification
(https://github.com/huggingface/safetensors#format), not Caldera's code, so the reader is tested against another
implementation. Every value is a formula of the tensor's index and the element's flat index, which the C# test
recomputes: HfNumpyFixtureTests. Needs Debian's python3-numpy; the output is committed, so CI needs no Python.

    /usr/bin/python3 scripts/make-numpy-safetensors.py   (Debian's python3, where python3-numpy installs numpy)
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "Caldera.Runtime.Tests", "Formats", "Fixtures", "numpy-llama")

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, CONTEXT = 16, 40, 2, 4, 2, 32, 64
HEAD_DIM = DIM // HEADS


def values(index, count):
    """The formula the C# test recomputes: sin(0.37·i + 1.3·index) / 2 in float64, then cast to float32."""
    i = np.arange(count, dtype=np.float64)
    return (np.sin(0.37 * i + 1.3 * index) / 2).astype(np.float32)


def bfloat16_bits(x):
    """float32 → bfloat16 bit patterns, round to nearest even (torch's .to(torch.bfloat16)); the inputs are finite."""
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def tensors():
    """(name, shape, dtype) in a fixed order; the order's index seeds the values. Dtypes are mixed on purpose."""
    yield "model.embed_tokens.weight", (VOCAB, DIM), "F32"
    for layer in range(LAYERS):
        dtype = "BF16" if layer == 0 else "F16"
        p = f"model.layers.{layer}."
        yield p + "input_layernorm.weight", (DIM,), "F32"
        yield p + "self_attn.q_proj.weight", (HEADS * HEAD_DIM, DIM), dtype
        yield p + "self_attn.k_proj.weight", (KV_HEADS * HEAD_DIM, DIM), dtype
        yield p + "self_attn.v_proj.weight", (KV_HEADS * HEAD_DIM, DIM), dtype
        yield p + "self_attn.o_proj.weight", (DIM, HEADS * HEAD_DIM), dtype
        yield p + "post_attention_layernorm.weight", (DIM,), "F32"
        yield p + "mlp.gate_proj.weight", (HIDDEN, DIM), dtype
        yield p + "mlp.up_proj.weight", (HIDDEN, DIM), dtype
        yield p + "mlp.down_proj.weight", (DIM, HIDDEN), dtype
    yield "model.norm.weight", (DIM,), "F32"
    yield "lm_head.weight", (VOCAB, DIM), "BF16"


def encode(x, dtype):
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F16":
        return x.astype("<f2").tobytes()
    return bfloat16_bits(x).astype("<u2").tobytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    header, data = {"__metadata__": {"format": "pt", "writer": "numpy " + np.__version__}}, bytearray()
    for index, (name, shape, dtype) in enumerate(tensors()):
        blob = encode(values(index, int(np.prod(shape))), dtype)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the specification allows trailing spaces; they align the data to 8 bytes
    with open(os.path.join(OUT, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(data))
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "hidden_size": DIM, "intermediate_size": HIDDEN, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB,
        "max_position_embeddings": CONTEXT, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "attention_bias": False, "torch_dtype": "bfloat16",
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
