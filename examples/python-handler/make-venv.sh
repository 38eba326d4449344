#!/bin/sh
# Makes .venv beside this script with the Runtime Interface Client and Powertools. Idempotent and
# safe to run concurrently; .venv/.ready is written last, so a half-made venv is never used.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec 9>"$here/.venv.lock"
flock 9
[ -e "$here/.venv/.ready" ] && exit 0
rm -rf "$here/.venv"
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
touch "$here/.venv/.ready"
