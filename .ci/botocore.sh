#!/usr/bin/env bash
# Checks that the committed CreateEventSourceMapping limits still match botocore's Lambda model:
# installs the newest botocore into a throwaway venv, regenerates the limits and diffs them.
# A difference means AWS changed a limit: review it, then commit the regenerated file
# (scripts/botocore_limits.py esm/tests/data/botocore-lambda-limits.json) and adjust the
# consumer's config reader so esm/tests/botocore_limits.rs passes.
set -euo pipefail
cd "$(dirname "$0")/.."

committed=esm/tests/data/botocore-lambda-limits.json
work=$(mktemp -d "${TMPDIR:-/tmp}/botocore-limits.XXXXXX")
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check botocore
"$work/venv/bin/python" scripts/botocore_limits.py "$work/limits.json"

# The version line alone may differ: a new botocore with the same limits is no failure.
strip_version() { grep -v '"botocore_version"' "$1"; }
if ! diff -u <(strip_version "$committed") <(strip_version "$work/limits.json") >"$work/diff"; then
  echo "botocore's CreateEventSourceMapping limits differ from $committed:"
  cat "$work/diff"
  exit 1
fi
echo "botocore $("$work/venv/bin/python" -c 'import botocore; print(botocore.__version__)'): limits match $committed"
