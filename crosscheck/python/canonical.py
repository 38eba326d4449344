"""The canonical form every parser prints for a Kafka event, and the reference decoding of the
raw JSON (json + base64 only) that the parsers are compared with. Standard library only.

One JSON line per event:
  {"file", "eventSource", "eventSourceArn", "bootstrapServers", "recordKeys": sorted keys,
   "records": [{"list", "topic", "partition", "offset", "timestamp" (epoch ms), "timestampType",
                "key" / "value": hex of the bytes or null,
                "headers": [[name, [signed bytes]], ...] in order}, ...]}
Records are ordered by list key, then as the list holds them; or {"file", "error"}.
"""

import base64
import binascii
import json
import os
import sys

# A folder with more samples than this is not a sample folder.
FILES_MAX = 10_000


def sample_files(folder):
    """The sample event files of a folder, sorted by name."""
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    if len(names) > FILES_MAX:
        raise SystemExit(f"{folder} holds {len(names)} samples; at most {FILES_MAX}")
    return [os.path.join(folder, n) for n in names]


def hex_or_none(data):
    return None if data is None else data.hex()


def signed(data):
    """Bytes as Java's signed byte values (-128..127), the form events carry headers in."""
    return [b - 256 if b > 127 else b for b in data]


def strict_b64(text):
    """Standard base64 as a Lambda handler decodes it; refuses stray characters."""
    return base64.b64decode(text, validate=True)


def raw_event(body):
    """The reference: the event decoded with json and base64 only, nothing guessed."""
    event = json.loads(body)
    lists = event.get("records") or {}
    records = []
    for list_key in sorted(lists):
        for r in lists[list_key]:
            key, value = r.get("key"), r.get("value")
            records.append({
                "list": list_key,
                "topic": r.get("topic"),
                "partition": r.get("partition"),
                "offset": r.get("offset"),
                "timestamp": r.get("timestamp"),
                "timestampType": r.get("timestampType"),
                "key": None if key is None else hex_or_none(strict_b64(key)),
                "value": None if value is None else hex_or_none(strict_b64(value)),
                "headers": [[name, list(data)] for h in r.get("headers", []) for name, data in h.items()],
            })
    return {
        "eventSource": event.get("eventSource"),
        "eventSourceArn": event.get("eventSourceArn"),
        "bootstrapServers": event.get("bootstrapServers"),
        "recordKeys": sorted(lists),
        "records": records,
    }


def print_lines(folder, parse, parser_name):
    """Prints one canonical line per sample file, an "error" line where `parse` raises."""
    for path in sample_files(folder):
        with open(path, "rb") as f:
            body = f.read()
        try:
            line = parse(body)
        except (ValueError, KeyError, TypeError, binascii.Error) as e:
            line = {"error": f"{parser_name}: {type(e).__name__}: {e}"}
        line["file"] = os.path.basename(path)
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: canonical.py <folder of sample events>")
    print_lines(sys.argv[1], raw_event, "raw json+base64")
