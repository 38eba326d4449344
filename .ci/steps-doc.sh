#!/usr/bin/env bash
# docs/STEPS.md's generated section must be what `esm-chaos steps --markdown` prints from the
# step definitions. Fails on drift; with --write, rewrites the section instead.
set -euo pipefail
cd "$(dirname "$0")/.."

doc=docs/STEPS.md
begin='<!-- BEGIN GENERATED: esm-chaos steps --markdown -->'
end='<!-- END GENERATED -->'
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
cargo run -q -p esm-chaos -- steps --markdown >"$generated"

section() { awk -v b="$begin" -v e="$end" '$0 == e { inside = 0 } inside { print } $0 == b { inside = 1 }' "$doc"; }

if [ "${1:-}" = "--write" ]; then
  awk -v b="$begin" -v e="$end" -v g="$generated" '
    $0 == b { print; while ((getline line < g) > 0) print line; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }' "$doc" >"$doc.new"
  mv "$doc.new" "$doc"
  echo "rewrote the generated section of $doc"
  exit 0
fi

if ! grep -qxF "$begin" "$doc" || ! grep -qxF "$end" "$doc"; then
  echo "$doc: the markers of the generated section are missing"; exit 1
fi
if ! diff -u <(section) "$generated"; then
  echo "$doc is out of date with the step definitions: run .ci/steps-doc.sh --write"; exit 1
fi
echo "$doc matches the step definitions"
