#!/usr/bin/env bash
# Coverage-guided fuzzing of one reader for a given time: scripts/fuzz.sh <reader> <seconds>
#   readers: cald gguf safetensors llama2c tokenizer (see fuzz/FuzzTargets.cs)
# Builds fuzz/Caldera.Fuzz, instruments Caldera.Runtime (and the tokenizer library) with SharpFuzz, runs AFL++ from
# fuzz/corpus/<reader>/, then folds what AFL found into that corpus, minimised by coverage (afl-cmin), so the corpus
# that the replay test (Caldera.Runtime.Tests, FuzzCorpusReplayTests) runs stays small. Crashes and hangs stay in
# artifacts/fuzz/<reader>/findings/default/{crashes,hangs}/; replay one with
#   dotnet artifacts/fuzz/<reader>/bin/Caldera.Fuzz.dll replay <reader> <file>
# Needs AFL++ (Debian package afl++, installed here when running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
reader=${1:?usage: scripts/fuzz.sh <cald|gguf|safetensors|llama2c|tokenizer> <seconds>}
seconds=${2:?usage: scripts/fuzz.sh <reader> <seconds>}
case "$reader" in cald|gguf|safetensors|llama2c|tokenizer) ;; *) echo "fuzz.sh: unknown reader '$reader'" >&2; exit 2 ;; esac

if ! command -v afl-fuzz >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
  else echo "fuzz.sh: afl-fuzz not found; install the Debian package afl++" >&2; exit 2; fi
fi

dotnet=$(command -v dotnet)
work=artifacts/fuzz/$reader
bin=$work/bin
corpus=fuzz/corpus/$reader
mkdir -p "$work"
dotnet tool restore >/dev/null
dotnet publish fuzz/Caldera.Fuzz -c Release -o "$bin" -p:UseAppHost=false >/dev/null
# Instrument once per build: sharpfuzz refuses an assembly it has already instrumented.
for dll in Caldera.Runtime.dll Microsoft.ML.Tokenizers.dll; do
  dotnet tool run sharpfuzz "$bin/$dll" >/dev/null 2>&1 || true
done
if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
  dotnet "$bin/Caldera.Fuzz.dll" seed "$work/seed" >/dev/null
  mkdir -p "$corpus" && cp "$work/seed/$reader"/* "$corpus"/
fi

export AFL_ALLOW_TMP=1 AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
# Resume an earlier run's queue when there is one ("-i -"), otherwise start from the corpus.
input=$corpus
[ -d "$work/findings/default/queue" ] && input=-
# -t: 10 s per input (the .NET start-up and the first JIT of a reader are slow); -m: 4 GB of address space per child
# is below what a bad size would need, so an unchecked huge allocation shows up as a crash.
timeout --preserve-status "$seconds" afl-fuzz -i "$input" -o "$work/findings" -t 10000 -m none -- "$dotnet" "$bin/Caldera.Fuzz.dll" "$reader" \
  > "$work/afl.log" 2>&1 || true
grep -E "^(execs_done|corpus_count|saved_crashes|saved_hangs|run_time)" "$work/findings/default/fuzzer_stats" || true

# Fold the queue into the corpus, keeping only inputs that add coverage.
merged=$work/merge
rm -rf "$merged" "$work/cmin" && mkdir -p "$merged"
cp "$corpus"/* "$merged"/
cp "$work/findings/default/queue"/id:* "$merged"/ 2>/dev/null || true
afl-cmin -i "$merged" -o "$work/cmin" -t 10000 -m none -- "$dotnet" "$bin/Caldera.Fuzz.dll" "$reader" > "$work/cmin.log" 2>&1
rm -f "$corpus"/*
# Content-addressed names: the same input found twice is one file, and names have no odd characters.
for f in "$work/cmin"/*; do cp "$f" "$corpus/$(sha1sum "$f" | cut -c1-16)"; done
echo "fuzz.sh: $reader corpus: $(ls "$corpus" | wc -l) files, $(du -sh "$corpus" | cut -f1)"
crashes=$(ls "$work/findings/default/crashes" 2>/dev/null | grep -vc README || true)
hangs=$(ls "$work/findings/default/hangs" 2>/dev/null | wc -l)
echo "fuzz.sh: $reader crashes: $crashes, hangs: $hangs (in $work/findings/default/)"
