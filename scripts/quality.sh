#!/usr/bin/env bash
# Reproduces the tables of docs/quality.md: compresses a model in each configuration, calibrated on the first
# 90 % of ../shared/models/text/tinystories_val.txt (cut at the story boundary the models' README gives), and
# evaluates every result against the fp32 model on the remaining 10 % (ctx 256, llama.cpp's perplexity/KLD).
#   scripts/quality.sh stories260K   [preset]   (default preset: paper)
#   scripts/quality.sh tinystories-256d [preset] (default preset: fast)
# Results (JSON per configuration, compress logs with time and peak memory) go to artifacts/quality/<model>/.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/models
case "${1:?model: stories260K or tinystories-256d}" in
  stories260K) model=$shared/stories260K/stories260K.bin; tok=(--tokenizer $shared/stories260K/tok512.model); preset=${2:-paper} ;;
  tinystories-256d) model=$shared/tinystories-256d/tinystories-256d-f32.gguf; tok=(); preset=${2:-fast} ;;
  *) echo "unknown model $1" >&2; exit 2 ;;
esac
out=artifacts/quality/$1; mkdir -p "$out"
dotnet build src/Caldera.Cli -c Release -o artifacts/caldera-cli >/dev/null
caldera=(dotnet artifacts/caldera-cli/caldera.dll)
timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)   # peak memory in the compress logs, where GNU time exists

# The split of the models' README: the first blank line at or after 90 % of the bytes that "Once upon a time" follows.
text=$shared/text/tinystories_val.txt
size=$(stat -c %s "$text")
cut=$(grep -b -o $'^Once upon a time' "$text" | awk -F: -v min=$((size * 9 / 10)) '$1 >= min { print $1; exit }')
head -c "$cut" "$text" > "$out/train.txt"
tail -c +"$((cut + 1))" "$text" > "$out/heldout.txt"

"${caldera[@]}" eval "$model" "${tok[@]}" --text "$out/heldout.txt" --reference "$model" --ctx 256 --json > "$out/fp32.json"
for cfg in "rtn2:--method rtn --q-bits 2" "ldlq:--method ldlq --preset $preset" "r4:--rank 4 --preset $preset" \
           "r8:--rank 8 --preset $preset" "r16:--rank 16 --preset $preset" "r16-f16:--rank 16 --embedding f16 --preset $preset" \
           "r16-int4:--rank 16 --embedding int4 --preset $preset" "r16-cls:--rank 16 --classifier caldera --preset $preset" \
           "r16-int4-cls:--rank 16 --embedding int4 --classifier caldera --preset $preset" \
           "r8-16bit:--rank 8 --lr-bits 16 --preset $preset" \
           "r32:--rank 32 --preset $preset" "r64:--rank 64 --preset $preset"; do
  name=${cfg%%:*}; read -ra options <<< "${cfg#*:}"
  "${timer[@]}" "${caldera[@]}" compress "$model" "${tok[@]}" -o "$out/$name.cald" --calibration "$out/train.txt" "${options[@]}" > "$out/$name.compress.log" 2>&1
  "${caldera[@]}" eval "$out/$name.cald" --text "$out/heldout.txt" --reference "$model" "${tok[@]}" --ctx 256 --json > "$out/$name.json"
  echo "$name: $(grep -o '"mean_kld": [^,]*' "$out/$name.json"), $(grep -o '"file_bits_per_weight": [^,]*' "$out/$name.json"), $(grep -o '"layer_bits_per_weight": [^,]*' "$out/$name.json")"
done
