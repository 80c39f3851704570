#!/usr/bin/env python3
"""Independent check of Caldera's training pass: PyTorch autograd and torch.optim.AdamW on stories260K.

Covers the dense Llama backward (RMSNorm, interleaved RoPE, grouped-query causal attention, SwiGLU, tied classifier,
mean next-token cross-entropy) with trainable low-rank factors beside every block matrix, y = W·x + L·(R·x)
(L held as Lᵀ, r×m, as Caldera holds it), and ten AdamW steps with gradient-norm clipping and Caldera's
warmup-then-linear-decay schedule, all on one fixed window. It does not cover the Hadamard transforms or the coded
Q of a compressed matrix; the float64 reference and its finite-difference tests cover those.

Writes tests/Caldera.Runtime.Tests/Training/Fixtures/stories260K-lora-torch.json, which TorchFixtureTests compares
with Caldera's fp32 pass, so CI needs no Python. Debian's python3-torch (1.13) and python3-numpy:
    apt-get install -y python3-torch python3-numpy && python3 scripts/torch-lora-check.py
"""
import json, math, os, struct
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "..", "shared", "models", "stories260K", "stories260K.bin")
OUT = os.path.join(ROOT, "tests", "Caldera.Runtime.Tests", "Training", "Fixtures", "stories260K-lora-torch.json")

RANK, STEPS, LR, WARMUP, WEIGHT_DECAY, CLIP, T = 4, 10, 3e-3, 2, 0.01, 1.0, 32
TOKENS = [1] + [(i * 37 + 11) % 512 for i in range(1, T + 1)]  # T + 1 tokens: inputs [0, T), targets [1, T]
SLOTS = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]  # Caldera's order within a layer
HEAD_SAMPLE = 8  # leading gradient entries recorded per factor


def read_llama2c(path):
    with open(path, "rb") as f:
        dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack("<7i", f.read(28))
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    at = 0

    def take(*shape):
        nonlocal at
        n = math.prod(shape)
        t = data[at:at + n].reshape(shape).clone()
        at += n
        return t
    w = {"emb": take(abs(vocab), dim), "rms_att": take(layers, dim), "wq": take(layers, dim, dim),
         "wk": take(layers, kv_heads * dim // heads, dim), "wv": take(layers, kv_heads * dim // heads, dim),
         "wo": take(layers, dim, dim), "rms_ffn": take(layers, dim), "w1": take(layers, hidden, dim),
         "w2": take(layers, dim, hidden), "w3": take(layers, hidden, dim), "rms_final": take(dim)}
    return dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=abs(vocab)), w


def initial(k, rows, columns):
    """The factors' starting values; TorchFixtureTests computes the same (k: the matrix's index in Caldera's order)."""
    lt = [[0.05 * math.sin(0.7 * i + 1.3 * j + 0.1 * k) for i in range(rows)] for j in range(RANK)]
    r = [[0.05 * math.cos(0.3 * e + 2.1 * j + 0.2 * k) for e in range(columns)] for j in range(RANK)]
    return torch.tensor(lt, dtype=torch.float32), torch.tensor(r, dtype=torch.float32)


def rate(step):
    return LR * step / WARMUP if step <= WARMUP else LR * (STEPS - step + 1) / (STEPS - WARMUP + 1)


def main():
    c, w = read_llama2c(MODEL)
    frozen = {"attn_q": w["wq"], "attn_k": w["wk"], "attn_v": w["wv"], "attn_output": w["wo"],
              "ffn_gate": w["w1"], "ffn_up": w["w3"], "ffn_down": w["w2"]}
    names, factors = [], []
    for layer in range(c["layers"]):
        for slot in SLOTS:
            m, n = frozen[slot][layer].shape
            lt, r = initial(len(names), m, n)
            names.append(f"blk.{layer}.{slot}.weight")
            factors.append((lt.requires_grad_(), r.requires_grad_()))
    hd = c["dim"] // c["heads"]
    group = c["heads"] // c["kv_heads"]
    freq = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    angle = torch.arange(T, dtype=torch.float32)[:, None] * freq[None, :]
    cos, sin = torch.cos(angle), torch.sin(angle)  # T × hd/2

    def linear(x, layer, slot):
        lt, r = factors[layer * len(SLOTS) + SLOTS.index(slot)]
        return x @ frozen[slot][layer].T + (x @ r.T) @ lt

    def rms(x, g):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * g

    def rope(x):  # x: T × heads × hd, pairs (2p, 2p + 1)
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos[:, None] - b * sin[:, None], b * cos[:, None] + a * sin[:, None]), -1).flatten(-2)

    def loss_of(tokens):
        inputs, targets = torch.tensor(tokens[:-1]), torch.tensor(tokens[1:])
        x = w["emb"][inputs]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(c["layers"]):
            a = rms(x, w["rms_att"][l])
            q = rope(linear(a, l, "attn_q").view(T, c["heads"], hd))
            k = rope(linear(a, l, "attn_k").view(T, c["kv_heads"], hd)).repeat_interleave(group, 1)
            v = linear(a, l, "attn_v").view(T, c["kv_heads"], hd).repeat_interleave(group, 1)
            att = torch.softmax(torch.einsum("thd,phd->htp", q, k) / math.sqrt(hd) + mask, -1)
            o = torch.einsum("htp,phd->thd", att, v).reshape(T, c["dim"])
            x = x + linear(o, l, "attn_output")
            f = rms(x, w["rms_ffn"][l])
            x = x + linear(torch.nn.functional.silu(linear(f, l, "ffn_gate")) * linear(f, l, "ffn_up"), l, "ffn_down")
        logits = rms(x, w["rms_final"]) @ w["emb"].T
        return torch.nn.functional.cross_entropy(logits, targets)

    params = [p for pair in factors for p in pair]
    optimizer = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WEIGHT_DECAY)
    losses, gradients = [], {}
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()
        loss = loss_of(TOKENS)
        loss.backward()
        losses.append(loss.item())
        if step == 1:
            for name, (lt, r) in zip(names, factors):
                gradients[name] = {"lt_norm": lt.grad.norm().item(), "r_norm": r.grad.norm().item(),
                                   "lt_head": lt.grad.flatten()[:HEAD_SAMPLE].tolist(), "r_head": r.grad.flatten()[:HEAD_SAMPLE].tolist()}
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        for group_ in optimizer.param_groups:
            group_["lr"] = rate(step)
        optimizer.step()
    fixture = {"generator": "scripts/torch-lora-check.py", "torch": torch.__version__, "model": "stories260K/stories260K.bin",
               "rank": RANK, "steps": STEPS, "learning_rate": LR, "warmup_steps": WARMUP, "weight_decay": WEIGHT_DECAY,
               "clip_norm": CLIP, "tokens": TOKENS, "losses": losses, "gradients": gradients}
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
    print(f"wrote {OUT}: losses {losses[0]:.5f} → {losses[-1]:.5f}")


if __name__ == "__main__":
    main()
