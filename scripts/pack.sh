#!/usr/bin/env bash
# Packs the three NuGet packages into artifacts/packages/:
#   Caldera.Runtime   the runtime the generated model classes run on
#   Caldera.Build     <CalderaModel> targets, tasks, the compiler (tools/) and, once merged, the generator
#   Caldera.Cli       the `caldera` dotnet tool
set -euo pipefail
cd "$(dirname "$0")/.."
configuration="${1:-Release}"
out=artifacts/packages
mkdir -p "$out"
for project in src/Caldera.Runtime src/Caldera.Build src/Caldera.Cli; do
    dotnet pack "$project" -c "$configuration" -o "$out" -nodeReuse:false
done
ls -l "$out"
