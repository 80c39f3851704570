#!/usr/bin/env python3
"""Builds the Llama 3.1 RoPE fixture: a tiny random Llama written twice, as a GGUF whose RoPE scaling is the
rope_freqs.weight tensor (as llama.cpp's converter writes Llama 3.1+) and as a Hugging Face directory whose
config.json has rope_scaling {rope_type: llama3}, plus the logits of a float64 forward pass computed here with
numpy alone (no Caldera code), which the runtime tests compare against.

Needs Debian's python3-numpy (apt-get install python3-numpy). Deterministic: rerunning rewrites the same bytes.
Usage: /usr/bin/python3 scripts/make-llama31-rope-fixture.py [output dir]   (Debian's python3, which has numpy)
"""
import json
import math
import os
import struct
import sys

import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "tests", "Caldera.Runtime.Tests", "Fixtures", "llama31-rope")

# Small enough to commit, with theta and the original context chosen so that the llama3 rule puts the four
# rotated pairs of a head in all three bands: pair 0 kept, pair 1 interpolated, pairs 2 and 3 divided by 8.
# The vocabulary is stories260K's (512), so that its tok512.model can calibrate a compression of the model.
DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, CONTEXT = 32, 64, 2, 4, 2, 512, 64
HEAD_DIM = DIM // HEADS
EPS, THETA = 1e-5, 100.0
FACTOR, LOW_FREQ_FACTOR, HIGH_FREQ_FACTOR, ORIGINAL_CONTEXT = 8.0, 1.0, 4.0, 32
TOKENS = 24

rng = np.random.default_rng(20240723)


def randn(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# Weights in the Hugging Face layout ([out, in], q/k rows in rotate-half order).
hf = {"model.embed_tokens.weight": randn(VOCAB, DIM)}
for l in range(LAYERS):
    p = f"model.layers.{l}."
    hf[p + "input_layernorm.weight"] = (1 + randn(DIM, scale=0.1)).astype(np.float32)
    hf[p + "self_attn.q_proj.weight"] = randn(HEADS * HEAD_DIM, DIM, scale=DIM ** -0.5)
    hf[p + "self_attn.k_proj.weight"] = randn(KV_HEADS * HEAD_DIM, DIM, scale=DIM ** -0.5)
    hf[p + "self_attn.v_proj.weight"] = randn(KV_HEADS * HEAD_DIM, DIM, scale=DIM ** -0.5)
    hf[p + "self_attn.o_proj.weight"] = randn(DIM, HEADS * HEAD_DIM, scale=DIM ** -0.5)
    hf[p + "post_attention_layernorm.weight"] = (1 + randn(DIM, scale=0.1)).astype(np.float32)
    hf[p + "mlp.gate_proj.weight"] = randn(HIDDEN, DIM, scale=DIM ** -0.5)
    hf[p + "mlp.up_proj.weight"] = randn(HIDDEN, DIM, scale=DIM ** -0.5)
    hf[p + "mlp.down_proj.weight"] = randn(DIM, HIDDEN, scale=HIDDEN ** -0.5)
hf["model.norm.weight"] = (1 + randn(DIM, scale=0.1)).astype(np.float32)
tokens = rng.integers(0, VOCAB, TOKENS).tolist()


def llama3_inverse_frequencies():
    """transformers' _compute_llama3_parameters, in float64."""
    inv_freq = 1.0 / THETA ** (np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)
    low_wavelen, high_wavelen = ORIGINAL_CONTEXT / LOW_FREQ_FACTOR, ORIGINAL_CONTEXT / HIGH_FREQ_FACTOR
    wavelen = 2 * math.pi / inv_freq
    scaled = np.where(wavelen > low_wavelen, inv_freq / FACTOR, inv_freq)
    smooth = (ORIGINAL_CONTEXT / wavelen - LOW_FREQ_FACTOR) / (HIGH_FREQ_FACTOR - LOW_FREQ_FACTOR)
    smoothed = (1 - smooth) * scaled / FACTOR + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return np.where(medium, smoothed, scaled), inv_freq


def rope_factors():
    """llama.cpp convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors): one divisor per rotated pair."""
    base = 1.0 / THETA ** (np.arange(0, HEAD_DIM, 2, dtype=np.float32) / HEAD_DIM)
    low_wavelen, high_wavelen = ORIGINAL_CONTEXT / LOW_FREQ_FACTOR, ORIGINAL_CONTEXT / HIGH_FREQ_FACTOR
    factors = []
    for freq in base:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(FACTOR)
        else:
            smooth = (ORIGINAL_CONTEXT / wavelen - LOW_FREQ_FACTOR) / (HIGH_FREQ_FACTOR - LOW_FREQ_FACTOR)
            factors.append(1 / ((1 - smooth) / FACTOR + smooth))
    return np.array(factors, dtype=np.float32)


def forward():
    """The whole prompt at once, causal, in float64: transformers' LlamaForCausalLM written out."""
    w = {k: v.astype(np.float64) for k, v in hf.items()}
    inv_freq, plain = llama3_inverse_frequencies()
    assert (inv_freq == plain).any() and (inv_freq == plain / FACTOR).any() and ((inv_freq != plain) & (inv_freq != plain / FACTOR)).any()
    angles = np.outer(np.arange(TOKENS), inv_freq)                       # [T, hd/2]
    cos, sin = np.cos(np.concatenate([angles, angles], 1)), np.sin(np.concatenate([angles, angles], 1))

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * g

    def rotate(x):                                                        # [T, heads, hd], rotate-half pairs
        half = HEAD_DIM // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], -1)
        return x * cos[:, None, :] + rotated * sin[:, None, :]

    x = w["model.embed_tokens.weight"][tokens]
    mask = np.triu(np.full((TOKENS, TOKENS), -np.inf), 1)
    for l in range(LAYERS):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = rotate((h @ w[p + "self_attn.q_proj.weight"].T).reshape(TOKENS, HEADS, HEAD_DIM))
        k = rotate((h @ w[p + "self_attn.k_proj.weight"].T).reshape(TOKENS, KV_HEADS, HEAD_DIM))
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(TOKENS, KV_HEADS, HEAD_DIM)
        group = HEADS // KV_HEADS
        k, v = np.repeat(k, group, 1), np.repeat(v, group, 1)
        scores = np.einsum("thd,shd->hts", q, k) / math.sqrt(HEAD_DIM) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attention = np.einsum("hts,shd->thd", scores, v).reshape(TOKENS, HEADS * HEAD_DIM)
        x = x + attention @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    return rms(x, w["model.norm.weight"]) @ w["model.embed_tokens.weight"].T       # tied classifier


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, t in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for t in tensors.values():
            f.write(np.ascontiguousarray(t, dtype="<f4").tobytes())


def to_interleaved(w, heads):
    """llama.cpp's LlamaModel.permute: rotate-half rows back to interleaved pairs, as GGUF stores q and k."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path):
    def string(s):
        b = s.encode()
        return struct.pack("<Q", len(b)) + b

    kv = [("general.architecture", 8, string("llama")), ("llama.context_length", 4, struct.pack("<I", CONTEXT)),
          ("llama.embedding_length", 4, struct.pack("<I", DIM)), ("llama.block_count", 4, struct.pack("<I", LAYERS)),
          ("llama.feed_forward_length", 4, struct.pack("<I", HIDDEN)), ("llama.rope.dimension_count", 4, struct.pack("<I", HEAD_DIM)),
          ("llama.attention.head_count", 4, struct.pack("<I", HEADS)), ("llama.attention.head_count_kv", 4, struct.pack("<I", KV_HEADS)),
          ("llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", EPS)), ("llama.rope.freq_base", 6, struct.pack("<f", THETA))]
    tensors = {"token_embd.weight": hf["model.embed_tokens.weight"], "rope_freqs.weight": rope_factors()}
    for l in range(LAYERS):
        p, b = f"model.layers.{l}.", f"blk.{l}."
        tensors[b + "attn_norm.weight"] = hf[p + "input_layernorm.weight"]
        tensors[b + "attn_q.weight"] = to_interleaved(hf[p + "self_attn.q_proj.weight"], HEADS)
        tensors[b + "attn_k.weight"] = to_interleaved(hf[p + "self_attn.k_proj.weight"], KV_HEADS)
        tensors[b + "attn_v.weight"] = hf[p + "self_attn.v_proj.weight"]
        tensors[b + "attn_output.weight"] = hf[p + "self_attn.o_proj.weight"]
        tensors[b + "ffn_norm.weight"] = hf[p + "post_attention_layernorm.weight"]
        tensors[b + "ffn_gate.weight"] = hf[p + "mlp.gate_proj.weight"]
        tensors[b + "ffn_up.weight"] = hf[p + "mlp.up_proj.weight"]
        tensors[b + "ffn_down.weight"] = hf[p + "mlp.down_proj.weight"]
    tensors["output_norm.weight"] = hf["model.norm.weight"]

    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, kind, value in kv:
        head += string(key) + struct.pack("<I", kind) + value
    data, offset = b"", 0
    for name, t in tensors.items():
        dims = list(reversed(t.shape))                                    # ggml: innermost first
        head += string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", 0, offset)                             # type F32, offset in the data section
        raw = np.ascontiguousarray(t, dtype="<f4").tobytes()
        raw += b"\0" * (-len(raw) % 32)
        data += raw
        offset += len(raw)
    head += b"\0" * (-len(head) % 32)
    with open(path, "wb") as f:
        f.write(head + data)


os.makedirs(os.path.join(OUT, "hf"), exist_ok=True)
write_gguf(os.path.join(OUT, "llama31-rope.gguf"))
write_safetensors(os.path.join(OUT, "hf", "model.safetensors"), hf)
with open(os.path.join(OUT, "hf", "config.json"), "w") as f:
    json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": DIM, "intermediate_size": HIDDEN,
               "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB,
               "max_position_embeddings": CONTEXT, "rms_norm_eps": EPS, "rope_theta": THETA, "tie_word_embeddings": True,
               "rope_scaling": {"rope_type": "llama3", "factor": FACTOR, "low_freq_factor": LOW_FREQ_FACTOR,
                                "high_freq_factor": HIGH_FREQ_FACTOR, "original_max_position_embeddings": ORIGINAL_CONTEXT}},
              f, indent=2)
    f.write("\n")
logits = forward()
with open(os.path.join(OUT, "reference.json"), "w") as f:
    json.dump({"tokens": tokens, "logits_file": "reference-logits.f32", "logits_shape": list(logits.shape)}, f)
    f.write("\n")
with open(os.path.join(OUT, "reference-logits.f32"), "wb") as f:
    f.write(logits.astype("<f4").tobytes())
print(f"wrote {OUT}: {TOKENS} tokens, logits {logits.shape}, rope factors {rope_factors().tolist()}")
