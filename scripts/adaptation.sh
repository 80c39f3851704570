#!/usr/bin/env bash
# Adaptation to a new kind of text (docs/quality.md, "Adaptation to a new kind of text"): fine-tunes the compressed
# tinystories-256d on Shakespeare, a register TinyStories never shows it, and evaluates the held-out perplexity of both
# texts before and after.
#   scripts/adaptation.sh <tinyshakespeare input.txt> [model.cald]
# The text is karpathy/char-rnn's data/tinyshakespeare/input.txt (commit 370cbcd448eb7daf32f21a6be560b70e0b33c4e3,
# 1,115,394 bytes, sha256 86c4e6aa…565ed; the plays are public domain, the repository MIT); fetch it yourself, nothing
# here downloads. model.cald defaults to a fresh `caldera compress` of tinystories-256d at rank 16, fast preset, calibrated
# on the split scripts/quality.sh uses. Results go to artifacts/adaptation/.
set -euo pipefail
text="${1:?usage: scripts/adaptation.sh <tinyshakespeare input.txt> [model.cald]}"
[[ -f "$text" ]] || { echo "$text: no such file" >&2; exit 2; }
echo "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed  $text" | sha256sum --check --quiet \
  || { echo "$text: not char-rnn's tinyshakespeare input.txt (sha256 differs)" >&2; exit 2; }
text="$(cd "$(dirname "$text")" && pwd)/$(basename "$text")"
cd "$(dirname "$0")/.."
out=artifacts/adaptation; mkdir -p "$out"
dotnet build src/Caldera.Cli -c Release -o artifacts/caldera-cli >/dev/null
caldera=(dotnet artifacts/caldera-cli/caldera.dll)

# Shakespeare: the first 100 kB to train on, the next 30 kB held out, each cut at the blank line after the byte count.
cut_after() { LC_ALL=C awk -v min="$1" '$0 == "" && offset - 1 >= min { print offset + 1; exit } { offset += length($0) + 1 }' "$text"; }
train_end=$(cut_after 100000); held_end=$(cut_after $((train_end + 30000)))
head -c "$train_end" "$text" > "$out/shakespeare-train.txt"
head -c "$held_end" "$text" | tail -c +$((train_end + 1)) > "$out/shakespeare-heldout.txt"

# TinyStories: scripts/quality.sh's held-out 10 %.
stories=../shared/models/text/tinystories_val.txt
size=$(stat -c %s "$stories")
cut=$(grep -b -o $'^Once upon a time' "$stories" | awk -F: -v min=$((size * 9 / 10)) '$1 >= min { print $1; exit }')
head -c "$cut" "$stories" > "$out/tinystories-train.txt"
tail -c +"$((cut + 1))" "$stories" > "$out/tinystories-heldout.txt"

model="${2:-$out/r16.cald}"
if [[ ! -f "$model" ]]; then
  "${caldera[@]}" compress ../shared/models/tinystories-256d/tinystories-256d-f32.gguf -o "$model" \
    --calibration "$out/tinystories-train.txt" --rank 16 --preset fast
fi
# Two adapters: Shakespeare alone (two passes), and Shakespeare after as many bytes of TinyStories' training split
# (one pass over both; the validation share, taken from the end, is Shakespeare's, so the kept step is the one that
# fits Shakespeare best).
head -c 100000 "$out/tinystories-train.txt" | cat - "$out/shakespeare-train.txt" > "$out/replay-train.txt"
"${caldera[@]}" finetune "$model" --text "$out/shakespeare-train.txt" -o "$out/shakespeare.calda" \
  --rank 16 --lr 1e-3 --epochs 2 --seq-len 128 --validation 0.05 --threads "$(nproc)"
"${caldera[@]}" finetune "$model" --text "$out/replay-train.txt" -o "$out/replay.calda" \
  --rank 16 --lr 1e-3 --epochs 1 --seq-len 128 --validation 0.05 --threads "$(nproc)"
for held in shakespeare tinystories; do
  "${caldera[@]}" eval "$model" --text "$out/$held-heldout.txt" --ctx 256 --json > "$out/base-$held.json"
  for adapter in shakespeare replay; do
    "${caldera[@]}" eval "$model" --adapter "$out/$adapter.calda" --text "$out/$held-heldout.txt" --ctx 256 --json > "$out/$adapter-$held.json"
  done
  for run in base shakespeare replay; do echo "$held held out, $run: $(grep -o '"perplexity": [0-9.]*' "$out/$run-$held.json")"; done
done
