"""Compares what each parser read from the sample events with the raw JSON decoded by json and
base64 alone, and fails with the first differing event, record and field.

  compare.py <folder of sample events> <parser>[/<reader>]=<canonical lines file> ...
             [--not-covered=<shape>]...

It also fails when the samples lack a shape the check is meant to cover (a record without a key,
a header with bytes above 127, ...): a cross-check of events that never hold those proves nothing.
Standard library only.
"""

import json
import math
import os
import sys

from canonical import raw_event, sample_files

EVENT_FIELDS = ("eventSource", "eventSourceArn", "bootstrapServers", "recordKeys")
RECORD_FIELDS = ("list", "topic", "partition", "offset", "timestamp", "timestampType", "key", "value", "headers")
# At least this many bytes makes a value "large" for the coverage check.
LARGE_VALUE_BYTES = 64 * 1024
# Differences printed before giving up.
DIFFERENCES_SHOWN = 10


def aws_lambda_events_millis(ms):
    """What aws_lambda_events 1.2.1 reads for an epoch-ms timestamp: its MillisecondTimestamp
    goes through f64 seconds and truncates the fraction, so about half of all values come out
    1 ms low (`(seconds.fract() * 1000f64) as u32` in src/encodings/time.rs)."""
    seconds = ms / 1000.0
    return math.floor(seconds) * 1000 + int((seconds - math.floor(seconds)) * 1000)


# Deviations of a parser that are its own documented bug, not the event's: (parser, field) ->
# (predicate(raw value, parsed value), what it is). The predicate predicts the exact wrong value,
# so any other difference still fails.
KNOWN_DEVIATIONS = {
    ("aws_lambda_events", "timestamp"): (
        lambda raw, parsed: isinstance(raw, int) and parsed == aws_lambda_events_millis(raw),
        "aws_lambda_events 1.2.1 reads timestamps 1 ms low (f64 truncation in MillisecondTimestamp)",
    ),
}


def load_lines(path):
    by_file = {}
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            line = json.loads(text)
            if "file" not in line:
                raise SystemExit(f"{path}:{n}: line has no \"file\"")
            by_file[line["file"]] = line
    return by_file


def differences(parser, reference, parsed, deviations):
    """Yields (where, field, reference value, parsed value) for every difference."""
    for field in EVENT_FIELDS:
        if parsed.get(field) != reference[field]:
            yield "event", field, reference[field], parsed.get(field)
    records = parsed.get("records", [])
    if len(records) != len(reference["records"]):
        yield "event", "number of records", len(reference["records"]), len(records)
        return
    for ref, got in zip(reference["records"], records):
        where = f"record {ref['list']}@{ref['offset']}"
        for field in RECORD_FIELDS:
            if got.get(field) == ref[field]:
                continue
            known = KNOWN_DEVIATIONS.get((parser, field))
            if known and known[0](ref[field], got.get(field)):
                deviations[(parser, field)] = deviations.get((parser, field), 0) + 1
                continue
            yield where, field, ref[field], got.get(field)


def shapes_missing(events):
    """The shapes the samples must hold, each with whether some event holds it."""
    records = [r for e in events for r in e["records"]]
    header_bytes = [b for r in records for _, data in r["headers"] for b in data]
    header_names = [[name for name, _ in r["headers"]] for r in records]
    wanted = {
        "a record with a key": any(r["key"] is not None for r in records),
        "a record without a key": any(r["key"] is None for r in records),
        "a header byte above 127 (negative as a signed byte)": any(b < 0 for b in header_bytes),
        "an event holding several partitions": any(len(e["recordKeys"]) > 1 for e in events),
        "records of several partitions": len({r["list"] for r in records}) > 1,
        f"a value of {LARGE_VALUE_BYTES} bytes or more": any(
            r["value"] is not None and len(r["value"]) // 2 >= LARGE_VALUE_BYTES for r in records
        ),
        "a record with two headers of one name": any(len(names) != len(set(names)) for names in header_names),
        "a record with an empty value": any(r["value"] == "" for r in records),
    }
    return [shape for shape, held in wanted.items() if not held]


def main(folder, outputs, shapes_optional):
    parsed_by = {name: load_lines(path) for name, path in outputs}
    references = {}
    for path in sample_files(folder):
        with open(path, "rb") as f:
            references[os.path.basename(path)] = raw_event(f.read())
    if not references:
        raise SystemExit(f"crosscheck: FAILED: no sample events in {folder}")
    found = []
    deviations = {}
    for file, reference in references.items():
        for parser, lines in parsed_by.items():
            parsed = lines.get(file)
            if parsed is None:
                found.append(f"{file}: {parser} printed nothing for it")
            elif "error" in parsed:
                found.append(f"{file}: {parser} refused it: {parsed['error']}")
            else:
                for where, field, want, got in differences(parser, reference, parsed, deviations):
                    found.append(f"{file} {where} field {field}: raw JSON has {want!r}, {parser} read {got!r}")
    for (parser, field), count in sorted(deviations.items()):
        print(f"crosscheck: known deviation, {count} record(s): {KNOWN_DEVIATIONS[(parser, field)][1]}")
    missing = [s for s in shapes_missing(references.values()) if s not in shapes_optional]
    for shape in shapes_optional:
        print(f"crosscheck: not covered: {shape}")
    if found or missing:
        for line in found[:DIFFERENCES_SHOWN]:
            print(f"crosscheck: MISMATCH {line}")
        if len(found) > DIFFERENCES_SHOWN:
            print(f"crosscheck: ... and {len(found) - DIFFERENCES_SHOWN} more difference(s)")
        for shape in missing:
            print(f"crosscheck: no sample holds {shape}; a cross-check without it proves less than it claims")
        raise SystemExit(1)
    records = sum(len(r["records"]) for r in references.values())
    # "powertools/model" and "powertools/data-class" are two readers of one parser library.
    libraries = sorted({name.split("/")[0] for name in parsed_by})
    readers = ", ".join(parsed_by)
    print(f"crosscheck: {len(references)} events, {records} records, {len(libraries)} parsers agree ({readers})")


def parse_args(argv):
    shapes_optional = []
    outputs = []
    args = argv[1:]
    if not args:
        raise SystemExit(__doc__)
    folder = args.pop(0)
    for arg in args:
        if arg.startswith("--not-covered="):
            shapes_optional.append(arg.split("=", 1)[1])
        elif "=" in arg:
            outputs.append(tuple(arg.split("=", 1)))
        else:
            raise SystemExit(f"compare.py: {arg!r} is neither NAME=FILE nor --not-covered=SHAPE")
    return folder, outputs, shapes_optional


if __name__ == "__main__":
    main(*parse_args(sys.argv))
