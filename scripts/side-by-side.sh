#!/usr/bin/env bash
# The published NativeAOT app and `caldera run` beside llama.cpp's Q2_K and IQ2_XXS, on the same synthetic F16 GGUF
# and the same machine, interleaved in one loop; prints one table of decode and pp64 tok/s at 1 and 2 threads.
#
#   scripts/side-by-side.sh <llama.cpp source dir> <work dir>
#
# Fetches nothing. The llama.cpp source comes from outside the repository (nothing of it is committed): a bare git
# mirror of llama.cpp that holds upstream's commit 82bb485 (the one benchmarks/README.md's table used), unpacked:
#   mkdir /tmp/llama.cpp && git --git-dir=<mirror> archive 82bb485 | tar -x -C /tmp/llama.cpp
# A mirror that lacks some large blobs (docs/ops/*.csv, models/ggml-vocab-*.gguf) stops git archive; leave those out:
#   git --git-dir=<mirror> archive 82bb485 $(git --git-dir=<mirror> ls-tree --name-only 82bb485 | grep -vx -e docs -e models)
# Needs cmake and g++ (llama.cpp), python3 with numpy (llama.cpp's gguf-py: Debian's python3-numpy) and the .NET SDK.
#
# Every step keeps its output in <work dir> and is skipped when that output is there, so a rerun only measures:
#   llama.cpp built in <llama.cpp>/build (CPU, Release, -march=native; ≈ 14 min on 2 cores)
#   model.gguf        the dim-2048 synthetic Llama, random F16 weights (scripts/make-synthetic-gguf.sh 0.5b)
#   llama-f16.gguf    the same file with the two keys llama.cpp needs to load a model without a vocabulary
#                     (tokenizer.ggml.model = no_vocab, llama.vocab_size); the weights are the same bytes
#   uniform.imatrix   an importance matrix of ones: IQ2_XXS refuses to quantize without one, and the synthetic model
#                     has no text to calibrate on (random weights, no vocabulary); ones weigh every column alike
#   q2_k.gguf, iq2_xxs.gguf   llama-quantize of llama-f16.gguf
#   synth-r64.cald    caldera compress model.gguf --rank 64 --preset fast (≈ 19 min on 2 quiet cores)
#   app/              a console app with <CalderaModel Include="synth-r64.cald" Name="SynthModel" />, published
#                     NativeAOT for linux-x64 with Caldera.Build's defaults (the model goes to the executable's trailer,
#                     with the app's x86-64-v4 build, which the portable one runs in its place on AVX-512 VBMI CPUs);
#                     published again on every run (incrementally), so that what is measured is this checkout's code
# Then ROUNDS rounds, each running every engine at every thread count in turn:
#   llama-bench -m <q2_k|iq2_xxs> -p 64 -n 32 -t T           (pp64 and tg32; llama-bench repeats each 5 times)
#   SideBySide-<isa> T 32 "<64-token prompt>"                (pp64 and decode of 32 tokens after it)
#   SideBySide-<isa> first T "<64-token prompt>"             (process start to the first generated token, in ms)
#   the default app again under CALDERA_ISA=portable         (its portable x86-64-v3 code on the same machine)
#   caldera run synth-r64.cald --steps 96 --threads T ...    (the same prompt; its own prompt / generation speeds)
# With DEPTH=N, each round also runs, at every thread count, the app on an N-token prompt (pp of N tokens, then 128
# decode steps at positions N…N+127) and llama-bench -p N -n 0 and -p 0 -n 32 -d N (Q2_K: pp of N tokens, and 32
# decode steps after N tokens): speeds at a long context, where attention reads the whole cache for every token.
# Prints the median of the rounds (min–max) per cell.
#
# Settings (environment): THREADS (default "1 2"), ROUNDS (default 3), DEPTH (default none), LAYERS (synthetic model
# layers, default 8), APP_ISAS (IlcInstructionSet values, one published app each, e.g. "x86-64-v3 x86-64-v4"; default
# "default", what Caldera.Build picks), NICE (prefix for the long build steps, default "nice -n 19"; the measurements
# themselves run at normal priority).
set -euo pipefail
if [[ $# -ne 2 ]]; then
  sed -n '2,4p' "$0" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
llama="$(cd "$1" && pwd)" || { echo "$1: no such directory: give a llama.cpp source checkout" >&2; exit 2; }
[[ -f "$llama/tools/llama-bench/llama-bench.cpp" ]] || { echo "$llama: not a llama.cpp source tree (no tools/llama-bench)" >&2; exit 2; }
depth="${DEPTH:-}"
[[ -z "$depth" || ( "$depth" =~ ^[1-9][0-9]*$ && "$depth" -le 1900 ) ]] ||
  { echo "DEPTH=$depth: give a prompt length from 1 to 1900 tokens (the model's context is 2048), or leave DEPTH unset" >&2; exit 2; }
mkdir -p "$2"
work="$(cd "$2" && pwd)"
threads="${THREADS:-1 2}"
rounds="${ROUNDS:-3}"
layers="${LAYERS:-}"
nice=(${NICE-nice -n 19})
python="${PYTHON:-python3}"
bin="$llama/build/bin"
log() { echo "side-by-side: $*" >&2; }
# llama-bench's CSV on stdin → result rows "<engine>\t<threads>\t<test>\t<tok/s>": a row with a prompt is test
# <prompt test>, one without is <decode test>.
bench_rows() {
  "$python" -c '
import csv, sys
engine, threads, prompt_test, decode_test = sys.argv[1:5]
for row in csv.DictReader(sys.stdin):
    print(engine, threads, prompt_test if int(row["n_prompt"]) > 0 else decode_test, row["avg_ts"], sep="\t")' "$@"
}

# llama.cpp: the three tools this script runs.
if [[ ! -x "$bin/llama-bench" || ! -x "$bin/llama-quantize" ]]; then
  log "building llama.cpp in $llama/build"
  "${nice[@]}" cmake -S "$llama" -B "$llama/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
  "${nice[@]}" cmake --build "$llama/build" -j "$(nproc)" --target llama-bench llama-quantize >/dev/null
fi

if [[ ! -f "$work/model.gguf" ]]; then
  log "writing the synthetic F16 GGUF"
  "${nice[@]}" "$root/scripts/make-synthetic-gguf.sh" 0.5b $layers "$work" >&2
fi

# llama.cpp's copy: the synthetic GGUF has no vocabulary (caldera reads tokenizer.model beside it); llama.cpp loads
# a model without one when tokenizer.ggml.model says no_vocab, and llama-bench feeds random token ids.
if [[ ! -f "$work/llama-f16.gguf" || ! -f "$work/uniform.imatrix" ]]; then
  log "writing llama-f16.gguf and uniform.imatrix"
  PYTHONPATH="$llama/gguf-py" "$python" - "$work/model.gguf" "$work/llama-f16.gguf" "$work/uniform.imatrix" <<'EOF'
import struct, sys
import gguf

source, target, imatrix = sys.argv[1:]
reader = gguf.GGUFReader(source)
writer = gguf.GGUFWriter(target, arch="llama")
for field in reader.fields.values():
    if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
        continue
    kind = field.types[0]
    sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
    writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
vocab = next(t for t in reader.tensors if t.name == "token_embd.weight").shape[-1]
writer.add_tokenizer_model("no_vocab")
writer.add_vocab_size(int(vocab))
for t in reader.tensors:
    writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_ti_data_to_file()
for t in reader.tensors:
    writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
writer.close()

# The legacy imatrix layout llama-quantize reads: per matrix its name, one call and one weight per input column.
matrices = [t for t in reader.tensors if t.name.startswith("blk.") and len(t.shape) == 2]
with open(imatrix, "wb") as f:
    f.write(struct.pack("<i", len(matrices)))
    for t in matrices:
        name = t.name.encode()
        columns = int(t.shape[0])  # GGUF lists dims innermost first: shape[0] is the row length
        f.write(struct.pack("<i", len(name)) + name + struct.pack("<ii", 1, columns))
        f.write(struct.pack(f"<{columns}f", *([1.0] * columns)))
    f.write(struct.pack("<i", 1))
    dataset = b"uniform"
    f.write(struct.pack("<i", len(dataset)) + dataset)
EOF
fi

for type in Q2_K IQ2_XXS; do
  out="$work/${type,,}.gguf"
  if [[ ! -f "$out" ]]; then
    log "quantizing $type"
    "${nice[@]}" "$bin/llama-quantize" --imatrix "$work/uniform.imatrix" "$work/llama-f16.gguf" "$out" "$type" >"$work/${type,,}.log" 2>&1 \
      || { tail -20 "$work/${type,,}.log" >&2; exit 1; }
  fi
done

dotnet build "$root/src/Caldera.Cli" -c Release -v q -nologo >/dev/null
caldera=(dotnet "$root/src/Caldera.Cli/bin/Release/net10.0/caldera.dll")
if [[ ! -f "$work/synth-r64.cald" ]]; then
  log "compressing model.gguf (rank 64, preset fast)"
  "${nice[@]}" "${caldera[@]}" compress "$work/model.gguf" -o "$work/synth-r64.cald" --rank 64 --preset fast >&2
fi

# The app a user writes: one <CalderaModel>, Caldera.Build from this repository (as the samples use it).
app="$work/app"
mkdir -p "$app"
# Directory.Build.props / .targets, as samples/ imports them: the targets after the SDK's, where
# $(IntermediateOutputPath) is known.
cat >"$app/Directory.Build.props" <<EOF
<Project>
  <Import Project="$root/src/Caldera.Build/source/Caldera.Build.Source.props" />
</Project>
EOF
cat >"$app/Directory.Build.targets" <<EOF
<Project>
  <Import Project="$root/src/Caldera.Build/source/Caldera.Build.Source.targets" />
</Project>
EOF
cat >"$app/SideBySide.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <PublishAot>true</PublishAot>
    <InvariantGlobalization>true</InvariantGlobalization>
  </PropertyGroup>
  <ItemGroup>
    <CalderaModel Include="$work/synth-r64.cald" Name="SynthModel" />
  </ItemGroup>
</Project>
EOF
cat >"$app/Program.cs" <<'EOF'
// SideBySide <threads> <generated tokens> <prompt>: prints "pp <tok/s> <prompt tokens>" and "tg <tok/s> <tokens>".
// Each run streams n + 1 output tokens: the prompt's prefill ends with the first piece of text (its last position's
// logits give that token), the n decode steps end with the stream. Three runs after a warm-up run that maps the weights
// in; the medians are reported. Timing both phases inside one run keeps the prefill's spread out of the decode speed,
// which a difference of two runs' times did not (at a 1000-token prompt it moved that speed by a fifth).
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;
using SideBySide;

if (args[0] == "first")
{
    // SideBySide first <threads> <prompt>: milliseconds from the process's start (the kernel's record of it, in 10 ms
    // ticks) to the first generated token's text, loading the model from the executable's trailer included; and, when
    // the launching shell passes its clock (LAUNCHED_AT=$EPOCHREALTIME exec SideBySide …), the milliseconds since then.
    using var loaded = SynthModel.Load(new Caldera.CalderaModelOptions { Threads = int.Parse(args[1], CultureInfo.InvariantCulture) });
    DateTime? at = null;
    await foreach (string piece in loaded.GenerateAsync(args[2], new Caldera.GenerationOptions { MaxOutputTokens = 1 }))
        at ??= DateTime.UtcNow;
    at ??= DateTime.UtcNow; // a token without text: the generation's end
    double ms = (at.Value - Process.GetCurrentProcess().StartTime.ToUniversalTime()).TotalMilliseconds;
    string launched = double.TryParse(Environment.GetEnvironmentVariable("LAUNCHED_AT"), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)
        ? string.Create(CultureInfo.InvariantCulture, $" {(at.Value - DateTime.UnixEpoch).TotalMilliseconds - seconds * 1000:F1}") : "";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first {ms:F0}{launched}"));
    return 0;
}
int threads = int.Parse(args[0], CultureInfo.InvariantCulture);
int generated = int.Parse(args[1], CultureInfo.InvariantCulture);
string prompt = args[2];
using var model = SynthModel.Load(new Caldera.CalderaModelOptions { Threads = threads });
Run(generated + 1);
var prefill = new List<double>();
var decode = new List<double>();
long promptTokens = 0, decoded = 0;
for (int i = 0; i < 3; i++)
{
    (double first, double end, promptTokens, long output) = Run(generated + 1);
    prefill.Add(first);
    decode.Add(end - first);
    decoded = output - 1;
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pp {promptTokens / Median(prefill):F2} {promptTokens}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tg {decoded / Median(decode):F2} {decoded}"));
return 0;

// Seconds to the first piece of text and to the stream's end, and the usage's prompt and output tokens.
(double First, double End, long PromptTokens, long OutputTokens) Run(int outputTokens)
{
    var options = new ChatOptions { MaxOutputTokens = outputTokens, Temperature = 0 };
    var clock = Stopwatch.StartNew();
    double first = double.NaN;
    UsageDetails? usage = null;
    foreach (var update in model.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, prompt)], options).ToBlockingEnumerable())
    {
        if (double.IsNaN(first) && !string.IsNullOrEmpty(update.Text)) first = clock.Elapsed.TotalSeconds;
        usage ??= update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details;
    }
    double end = clock.Elapsed.TotalSeconds;
    if (double.IsNaN(first) || usage is null) throw new InvalidOperationException("the run gave no text or no usage to time it by");
    return (first, end, usage.InputTokenCount ?? 0, usage.OutputTokenCount ?? 0);
}

static double Median(List<double> values)
{
    values.Sort();
    return values[values.Count / 2];
}
EOF
# One published executable per instruction set in APP_ISAS ("default": whatever Caldera.Build picks), each copied
# alone into the work folder: the model is in its trailer.
isas="${APP_ISAS:-default}"
for isa in $isas; do
  publish="$app/publish-$isa"
  # Published on every run: the build is incremental, so this costs little when nothing changed, and a change to the
  # runtime's sources (which a timestamp check on the app would miss) is always measured.
  log "publishing the app (NativeAOT, linux-x64, IlcInstructionSet $isa)"
  property=()
  [[ "$isa" != default ]] && property=("-p:IlcInstructionSet=${isa//,/%2C}")
  "${nice[@]}" dotnet publish "$app" -c Release -r linux-x64 -o "$publish" "${property[@]}" -v q -nologo >&2
  cp "$publish/SideBySide" "$work/SideBySide-$isa"
done

# The engines: each published app, and the default one a second time with its portable code.
apps=()
for isa in $isas; do
  apps+=("$isa")
  [[ "$isa" == default ]] && apps+=("default, portable")
done

# 63 words of "the" are 63 tokens of the llama2 vocabulary, 64 with BOS: llama-bench's pp64.
prompt="$(printf 'the %.0s' $(seq 63))"
prompt="${prompt% }"
if [[ -n "$depth" ]]; then
  long_prompt="$(printf 'the %.0s' $(seq $((depth - 1))))"
  long_prompt="${long_prompt% }"
fi
results="$work/results.tsv"
: >"$results"
log "measuring: $rounds rounds × threads $threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for t in $threads; do
    for type in q2_k iq2_xxs; do
      "$bin/llama-bench" -m "$work/$type.gguf" -p 64 -n 32 -t "$t" -o csv 2>/dev/null |
        bench_rows "llama.cpp ${type^^}" "$t" pp64 decode >>"$results"
    done
    for engine in "${apps[@]}"; do
      isa="${engine%%,*}"
      choice=()
      [[ "$engine" == *", portable" ]] && choice=(env CALDERA_ISA=portable)
      "${choice[@]}" "$work/SideBySide-$isa" "$t" 32 "$prompt" |
        awk -v t="$t" -v e="app $engine" '$1 == "pp" { print e "\t" t "\tpp64\t" $2 } $1 == "tg" { print e "\t" t "\tdecode\t" $2 }' >>"$results"
      "${choice[@]}" "$work/SideBySide-$isa" first "$t" "$prompt" | awk -v t="$t" -v e="app $engine" '$1 == "first" { print e "\t" t "\tfirst token, ms\t" $2 }' >>"$results"
    done
    if [[ -n "$depth" ]]; then
      for run in "-p $depth -n 0" "-p 0 -n 32 -d $depth"; do
        "$bin/llama-bench" -m "$work/q2_k.gguf" $run -t "$t" -o csv 2>/dev/null |
          bench_rows "llama.cpp Q2_K" "$t" "pp$depth" "decode after $depth tokens" >>"$results"
      done
      for isa in $isas; do
        "$work/SideBySide-$isa" "$t" 128 "$long_prompt" | awk -v t="$t" -v e="app $isa" -v d="$depth" \
          '$1 == "pp" { print e "\t" t "\tpp" d "\t" $2 } $1 == "tg" { print e "\t" t "\tdecode after " d " tokens\t" $2 }' >>"$results"
      done
    fi
    "${caldera[@]}" run "$work/synth-r64.cald" --prompt "$prompt" --temperature 0 --threads "$t" --steps 96 2>&1 >/dev/null |
      sed -n 's/^achieved tok\/s: prompt \([0-9.]*\) (\([0-9]*\) tokens), generation \([0-9.]*\) (\([0-9]*\) tokens).*/\1 \3/p' |
      awk -v t="$t" '{ print "caldera run\t" t "\tpp64\t" $1; print "caldera run\t" t "\tdecode\t" $2 }' >>"$results"
  done
  log "round $round done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done

"$python" - "$results" "${apps[@]}" <<'EOF'
import statistics, sys
from collections import defaultdict

cells = defaultdict(list)
for line in open(sys.argv[1]):
    engine, threads, test, value = line.rstrip("\n").split("\t")
    cells[(test, int(threads), engine)].append(float(value))
apps = [f"app {isa}" for isa in sys.argv[2:]]
engines = apps + ["caldera run", "llama.cpp Q2_K", "llama.cpp IQ2_XXS"]
print("| tok/s (first token: ms from process start) | threads | " + " | ".join(engines) + " | " + " | ".join(f"{a} / Q2_K" for a in apps) + " |")
print("|---|---:|" + "---:|" * (len(engines) + len(apps)))
tests = ["decode", "pp64", "first token, ms"]
tests += sorted({k[0] for k in cells} - set(tests))
for test in tests:
    for threads in sorted({k[1] for k in cells}):
        row, medians = [], {}
        for engine in engines:
            values = cells.get((test, threads, engine), [])
            if not values:
                row.append("")
                continue
            medians[engine] = statistics.median(values)
            row.append(f"{medians[engine]:.1f} ({min(values):.1f}–{max(values):.1f})")
        q2k = medians.get("llama.cpp Q2_K")
        ratios = [f"{medians[a] / q2k:.2f}×" if q2k and a in medians else "" for a in apps]
        print(f"| {test} | {threads} | " + " | ".join(row + ratios) + " |")
EOF
