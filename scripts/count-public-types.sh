#!/usr/bin/env bash
# Counts the public types of each package from its locked surface (PublicAPI.Shipped.txt, which the
# PublicApiAnalyzers keep equal to the compiled code), and the types an app sees: Caldera.Runtime's public
# types outside Caldera.CompilerServices, the namespace that only generated code uses (hidden from IntelliSense).
set -euo pipefail
cd "$(dirname "$0")/.."
# In PublicAPI.Shipped.txt a type is a line without "->" (members, enum values and constants all have one).
types() { grep -v '^#' "$1" | grep -v -- '->' | grep -v '^$' || true; }
for file in src/*/PublicAPI.Shipped.txt; do
    printf '%-40s %3d public types\n' "$(dirname "$file" | xargs basename)" "$(types "$file" | wc -l)"
done
app=$(types src/Caldera.Runtime/PublicAPI.Shipped.txt | grep -v '^Caldera\.CompilerServices\.' || true)
printf 'An app sees %d: %s\n' "$(grep -c . <<< "$app")" "$(tr '\n' ' ' <<< "$app")"
