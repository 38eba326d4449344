#!/usr/bin/env bash
# Builds the example runtimes that features/real_function.feature runs: the Python handler's venv
# (awslambdaric and Powertools, pinned in its requirements.txt) and the Rust handler's binary.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv --help >/dev/null 2>&1 || {
  echo "python3 has no venv module: install python3-venv"
  exit 1
}
command -v flock >/dev/null 2>&1 || {
  echo "flock not found: install util-linux"
  exit 1
}
examples/python-handler/make-venv.sh
examples/python-handler/.venv/bin/python -c 'import awslambdaric, aws_lambda_powertools'
cargo build -q -p rust-handler
echo "example runtimes ready: examples/python-handler/.venv, rust-handler"
