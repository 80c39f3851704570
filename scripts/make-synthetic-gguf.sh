#!/usr/bin/env bash
# Writes a synthetic Llama (random F16 weights) as a GGUF file, with a real tokenizer.model beside it where
# `caldera compress` finds it, so the memory and time of real matrix shapes can be measured without the real model.
#   scripts/make-synthetic-gguf.sh 0.5b [layers] <dir>   dim 2048, 32 heads, 8 KV heads, ffn 5632, vocab 32000 (8 layers: 0.98 GB)
#   scripts/make-synthetic-gguf.sh 8b [layers] <dir>     Llama-3-8B's widths: dim 4096, 32 heads, 8 KV heads, ffn 14336,
#                                                        vocab 32000 (llama2's tokenizer; 1 layer: 0.96 GB, 32 layers: 14.6 GB)
# The file is <dir>/model.gguf; the weights are SyntheticLlama's (benchmarks/Caldera.Benchmarks), seeded, so reruns agree.
set -euo pipefail
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 0.5b|8b [layers] <dir>" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
models="${CALDERA_MODELS:-/work/shared/models}"
tokenizer="$models/llama2-tokenizer/tokenizer.model"
dir="${!#}"
[[ -f "$tokenizer" ]] || { echo "$tokenizer not found: set CALDERA_MODELS to the folder holding llama2-tokenizer/" >&2; exit 2; }
mkdir -p "$dir"
dotnet run -c Release --project "$root/benchmarks/Caldera.Benchmarks" -- synthetic-gguf "${@:1:$#-1}" "$dir/model.gguf"
cp "$tokenizer" "$dir/tokenizer.model"
