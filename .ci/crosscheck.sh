#!/usr/bin/env bash
# Cross-checks the events the consumer sends against parsers written by others: runs
# features/event_shapes.feature with the mock Lambda keeping every event body, then reads each
# body with Powertools for AWS Lambda (Python: the KafkaEvent data class and the parser models),
# aws-lambda-java-events (deserialised by aws-lambda-java-serialization, as the Java runtime does)
# and aws_lambda_events (Rust), and compares all of them with the raw JSON decoded by json and
# base64. Fails with the first differing event, record and field.
#
# Needs python3, Java 17+ and Maven (.ci/run installs the last two); installs python3-venv
# if `python3 -m venv` is missing. Work files go to $CROSSCHECK_DIR
# (default: <cargo target dir>/crosscheck).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)
work="${CROSSCHECK_DIR:-${CARGO_TARGET_DIR:-target}/crosscheck}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
samples="$work/samples"
rm -rf "$samples" "$work/out"
mkdir -p "$samples" "$work/out"

log "Python: Powertools for AWS Lambda and pydantic in a venv"
if [ ! -x "$work/venv/bin/python" ]; then
  if ! python3 -m venv "$work/venv" >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv"
    rm -rf "$work/venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3-venv
    python3 -m venv "$work/venv"
  fi
fi
"$work/venv/bin/pip" install -q --disable-pip-version-check \
  'aws-lambda-powertools>=3,<4' 'pydantic>=2,<3'
"$work/venv/bin/python" -c \
  'import importlib.metadata as m; print("aws-lambda-powertools", m.version("aws-lambda-powertools"), "pydantic", m.version("pydantic"))'

log "Java: aws-lambda-java-events with aws-lambda-java-serialization"
mvn -q -B -Dstyle.color=never -f crosscheck/java/pom.xml package
java_classpath="crosscheck/java/target/classes:crosscheck/java/target/dependency/*"

log "Rust: aws_lambda_events, and the suite"
cargo build -q -p esm-chaos-harness --example kafka_event_canonical
cargo build -q -p esm-chaos

log "features/event_shapes.feature, keeping every event the function receives"
ESM_CHAOS_EVENT_SAMPLES="$samples" cargo run -q -p esm-chaos -- \
  run features/event_shapes.feature --concurrency 2
echo "$(find "$samples" -name '*.json' | wc -l) event bodies kept"

log "every parser reads every event"
cargo run -q -p esm-chaos-harness --example kafka_event_canonical -- "$samples" > "$work/out/rust.jsonl"
java -cp "$java_classpath" esmchaos.crosscheck.CheckEvents "$samples" > "$work/out/java.jsonl"
(cd crosscheck/python &&
  "$work/venv/bin/python" -B check_events.py data-class "$samples" > "$work/out/powertools-data-class.jsonl" &&
  "$work/venv/bin/python" -B check_events.py model "$samples" > "$work/out/powertools-model.jsonl")

log "compare with the raw JSON"
(cd crosscheck/python && python3 -B -m unittest -q test_compare)
# Shapes the suite cannot produce yet, each printed as not covered on every run: no phrase
# writes two headers of one name; an empty value is sent without "value" (Powertools refuses
# that: see the report of a run with `a record with value "" is produced`); the consumer sends
# one partition per event. Drop a flag once its shape is produced.
(cd crosscheck/python && python3 -B compare.py "$samples" \
  "aws_lambda_events=$work/out/rust.jsonl" \
  "aws-lambda-java-events=$work/out/java.jsonl" \
  "powertools/data-class=$work/out/powertools-data-class.jsonl" \
  "powertools/model=$work/out/powertools-model.jsonl" \
  "--not-covered=a record with two headers of one name" \
  "--not-covered=a record with an empty value" \
  "--not-covered=an event holding several partitions")
echo "crosscheck took $(( $(date +%s) - started )) s"
