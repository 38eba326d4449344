#!/usr/bin/env bash
# The gate a user's repository gets, checked from this one:
#   1. examples/user-crate (a crate outside this workspace) runs its scenarios through
#      `cargo test`, with the CLI's flags after `--`;
#   2. the suite runs against `esm-chaos broker` with --broker external: scenarios that need
#      control of the brokers or the network are reported skipped, and the run passes;
#   3. two shards (--partition 1/2, 2/2) hold every scenario exactly once;
#   4. the CI templates pass actionlint, and the GitLab and compose files parse as YAML.
# FEATURES narrows step 2 (default: the whole features/ folder).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
fail() { echo "gate: $*" >&2; exit 1; }

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$target_dir"
esm_chaos="$target_dir/debug/esm-chaos"
work=$(mktemp -d "${TMPDIR:-/tmp}/esm-chaos-gate.XXXXXX")
broker_pid=""
stop_broker() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -INT "$broker_pid"
    for _ in $(seq 1 60); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$broker_pid" 2>/dev/null; then
      echo "gate: the broker did not stop within 30 s of Ctrl-C" >&2
      kill -KILL "$broker_pid"
      return 1
    fi
    wait "$broker_pid" || true
  fi
  broker_pid=""
}
trap 'stop_broker; rm -rf "$work"' EXIT

log "build esm-chaos"
cargo build -q -p esm-chaos
"$esm_chaos" --version

log "examples/user-crate through cargo test"
manifest=examples/user-crate/Cargo.toml
listed=$(cargo test -q --manifest-path "$manifest" --test esm -- --list)
echo "$listed"
[ "$(echo "$listed" | grep -c 'orders.feature:')" -eq 2 ] || fail "the user crate should list 2 scenarios"
cargo test -q --manifest-path "$manifest" --test esm -- --name LATEST | tee "$work/user-latest.txt"
grep -q '1 passed, 0 failed, 0 skipped of 1' "$work/user-latest.txt" \
  || fail "--name LATEST should run exactly one scenario of the user crate"
cargo test -q --manifest-path "$manifest"

log "shards: --partition 1/2 and 2/2 hold every scenario once"
"$esm_chaos" run features/ --list | sort > "$work/all.txt"
"$esm_chaos" run features/ --list --partition 1/2 | sort > "$work/shard1.txt"
"$esm_chaos" run features/ --list --partition 2/2 | sort > "$work/shard2.txt"
[ -s "$work/shard1.txt" ] && [ -s "$work/shard2.txt" ] || fail "a shard is empty"
sort "$work/shard1.txt" "$work/shard2.txt" | diff - "$work/all.txt" \
  || fail "the shards' union is not the whole scenario list"
[ -z "$(comm -12 "$work/shard1.txt" "$work/shard2.txt")" ] || fail "a scenario is in both shards"
echo "$(wc -l < "$work/all.txt") scenarios = $(wc -l < "$work/shard1.txt") + $(wc -l < "$work/shard2.txt")"

log "the suite against esm-chaos broker (--broker external)"
"$esm_chaos" broker --retention-minutes 1 > "$work/broker.out" 2> "$work/broker.err" &
broker_pid=$!
servers=""
for _ in $(seq 1 240); do
  servers=$(sed -n 's/^ESM_CHAOS_BOOTSTRAP_SERVERS=//p' "$work/broker.out")
  [ -n "$servers" ] && break
  kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.err" >&2; fail "esm-chaos broker exited"; }
  sleep 0.5
done
[ -n "$servers" ] || { cat "$work/broker.err" >&2; fail "esm-chaos broker printed no bootstrap servers within 120 s"; }
echo "bootstrap servers: $servers"
started=$(date +%s)
"$esm_chaos" run ${FEATURES:-features/} --broker external --bootstrap-servers "$servers" \
  --report "$work/reports" | tee "$work/external.txt"
echo "external run took $(( $(date +%s) - started )) s"
grep -q ' skipped ' "$work/external.txt" || fail "no scenario was reported skipped on the external cluster"
stop_broker

log "CI templates"
actionlint=$(command -v actionlint || echo "$(go env GOPATH 2>/dev/null)/bin/actionlint")
if [ ! -x "$actionlint" ]; then
  go install github.com/rhysd/actionlint/cmd/actionlint@latest
  actionlint="$(go env GOPATH)/bin/actionlint"
fi
"$actionlint" ci/github-actions.yml
python3 - <<'PY'
import yaml
gitlab = yaml.safe_load(open("ci/gitlab-ci.yml"))
job = gitlab["esm-chaos"]
assert "--partition" in " ".join(job["script"]), "the GitLab job runs a shard"
assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
compose = yaml.safe_load(open("compose/docker-compose.yml"))
for name, service in compose["services"].items():
    assert "healthcheck" in service, f"{name} has no healthcheck"
    cluster_id = service["environment"]["CLUSTER_ID"]
    assert len(cluster_id) == 22, f"{name}: cluster id {cluster_id!r} is not 22 characters"
print("ci/gitlab-ci.yml and compose/docker-compose.yml parse")
PY
echo "gate passed"
