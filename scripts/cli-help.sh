#!/usr/bin/env bash
# Rewrites the generated part of docs/cli.md (between the help:begin and help:end markers) with what
# `caldera --help` and `caldera <verb> --help` print. HelpDocTests fails when the two drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Caldera.Cli -c Release -v quiet -nologo > /dev/null
caldera() { dotnet src/Caldera.Cli/bin/Release/net10.0/caldera.dll "$@"; }
generated=$(mktemp)
{
    echo '<!-- help:begin (scripts/cli-help.sh writes this part) -->'
    for verb in "" run inspect compress eval describe report finetune adapter "adapter inspect" "adapter merge"; do
        echo
        echo "### \`caldera${verb:+ $verb} --help\`"
        echo
        echo '```'
        caldera $verb --help
        echo '```'
    done
    echo '<!-- help:end -->'
} > "$generated"
awk -v file="$generated" '
    /<!-- help:begin/ { while ((getline line < file) > 0) print line; skip = 1; next }
    /<!-- help:end -->/ { skip = 0; next }
    !skip { print }' docs/cli.md > docs/cli.md.tmp
mv docs/cli.md.tmp docs/cli.md
rm -f "$generated"
