#!/usr/bin/env bash
# Runs the guarantee scenarios against the consumer built with each deliberate defect
# (esm-consumer's `defects` feature, selected by ESM_POLLER_DEFECT) and prints which defect
# each scenario caught. The row "none" is the consumer without a defect: every scenario must pass.
#
# Usage: scripts/defects.sh [feature-file...]
#   (default: features/guarantees.feature features/clean_stop.feature features/crash.feature)
# Needs Java (the local Kafka); CARGO_TARGET_DIR is honoured.
set -euo pipefail

cd "$(dirname "$0")/.."
[ $# -eq 0 ] && set -- features/guarantees.feature features/clean_stop.feature features/crash.feature
features=("$@")
defects=(none reset_to_earliest ignore_committed no_commit_on_stop ignore_record_age destination_missing_field)
target_dir="${CARGO_TARGET_DIR:-target}"
concurrency="${DEFECTS_CONCURRENCY:-3}"

# The faulty consumer is built apart and copied, so the normal binaries stay defect-free.
cargo build -q -p esm-consumer --features defects --bin esm-poller
cp "$target_dir/debug/esm-poller" "$target_dir/debug/esm-poller-defects"
cargo build -q -p esm-consumer --bin esm-poller
cargo build -q -p esm-chaos
runner="$target_dir/debug/esm-chaos"

out_dir="$(mktemp -d -t esm-defects.XXXXXX)"
trap 'rm -rf "$out_dir"' EXIT

for defect in "${defects[@]}"; do
    echo "== defect: $defect" >&2
    env_defect=()
    [ "$defect" != none ] && env_defect=(ESM_POLLER_DEFECT="$defect")
    env "${env_defect[@]}" ESM_CHAOS_CONSUMER="$target_dir/debug/esm-poller-defects" \
        "$runner" run "${features[@]}" --concurrency "$concurrency" \
        --junit "$out_dir/$defect.xml" --report "$out_dir/reports-$defect" >"$out_dir/$defect.log" 2>&1 || true
done

# A scenario catches a defect when it fails with it; with "none" every scenario must pass.
python3 - "$out_dir" "${defects[@]}" <<'PY'
import sys, xml.etree.ElementTree as ET
out_dir, defects = sys.argv[1], sys.argv[2:]
results, names = {}, []
for d in defects:
    try:
        root = ET.parse(f"{out_dir}/{d}.xml").getroot()
    except (OSError, ET.ParseError) as e:
        print(f"{d}: no JUnit report ({e}); see the run's log", file=sys.stderr)
        continue
    for case in root.iter("testcase"):
        name = case.get("name")
        if name not in names:
            names.append(name)
        failed = any(case.find(t) is not None for t in ("failure", "error"))
        results[(d, name)] = failed
width = max(len(n) for n in names) if names else 10
print(f"{'scenario':<{width}} | " + " | ".join(defects))
for n in names:
    cells = []
    for d in defects:
        f = results.get((d, n))
        if f is None:
            cells.append("?")
        elif d == "none":
            cells.append("FAILS" if f else "passes")
        elif results.get(("none", n)):
            cells.append("n/a")  # it fails without a defect too: it proves nothing here
        else:
            cells.append("caught" if f else "-")
    print(f"{n:<{width}} | " + " | ".join(f"{c:^{len(d)}}" for c, d in zip(cells, defects)))
PY
