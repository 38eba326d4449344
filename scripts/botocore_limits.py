#!/usr/bin/env python3
"""Extracts the limits of Lambda's CreateEventSourceMapping input from botocore's service model.

botocore is AWS's own description of the API (the model the AWS CLI validates against), so its
minimums, maximums, patterns and list lengths are the oracle for the consumer's config reader.
The output is small, sorted JSON keyed by dotted member path ("Topics[]" is an item of the list
Topics; a map with an enum key type is walked key by key), with the botocore version in it.

Usage: botocore_limits.py [OUTPUT]   (default: standard output)
"""

import gzip
import json
import os
import sys

import botocore

SERVICE_DIR = ("data", "lambda", "2015-03-31")
REQUEST_SHAPE = "CreateEventSourceMappingRequest"
# What get-event-source-mapping prints: its members that the request lacks are read-only.
OUTPUT_SHAPE = "EventSourceMappingConfiguration"
# The model has no recursive shapes here; a bound keeps a future one from looping for ever.
DEPTH_MAX = 8
LIMIT_KEYS = ("min", "max", "pattern", "enum")


def load_model():
    """The Lambda service model, plain or gzip (newer botocore ships service-2.json.gz)."""
    folder = os.path.join(os.path.dirname(botocore.__file__), *SERVICE_DIR)
    plain = os.path.join(folder, "service-2.json")
    if os.path.exists(plain):
        with open(plain, encoding="utf-8") as f:
            return json.load(f)
    with gzip.open(plain + ".gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def limits(shape):
    """Type and limits of one shape, without documentation."""
    out = {"type": shape["type"]}
    out.update({k: shape[k] for k in LIMIT_KEYS if k in shape})
    return out


def walk(shapes, name, path, depth, out):
    """Records the shape `name` at `path`, then its members, items or enum-keyed values."""
    if depth > DEPTH_MAX:
        raise SystemExit(f"{path}: nested deeper than {DEPTH_MAX}; is the shape recursive?")
    shape = shapes[name]
    entry = limits(shape)
    kind = shape["type"]
    if kind == "structure":
        entry["required"] = sorted(shape.get("required", []))
        for member, ref in shape["members"].items():
            child = f"{path}.{member}" if path else member
            walk(shapes, ref["shape"], child, depth + 1, out)
    elif kind == "list":
        walk(shapes, shape["member"]["shape"], f"{path}[]", depth + 1, out)
    elif kind == "map":
        key = shapes[shape["key"]["shape"]]
        entry["key"] = limits(key)
        entry["value"] = limits(shapes[shape["value"]["shape"]])
        for enum_key in key.get("enum", []):
            walk(shapes, shape["value"]["shape"], f"{path}.{enum_key}", depth + 1, out)
    if path:
        out[path] = entry


def extract():
    model = load_model()
    shapes = model["shapes"]
    members = {}
    walk(shapes, REQUEST_SHAPE, "", 0, members)
    request = shapes[REQUEST_SHAPE]["members"]
    read_only = sorted(m for m in shapes[OUTPUT_SHAPE]["members"] if m not in request)
    return {
        "botocore_version": botocore.__version__,
        "api_version": model["metadata"]["apiVersion"],
        "request_shape": REQUEST_SHAPE,
        "required": sorted(shapes[REQUEST_SHAPE].get("required", [])),
        "members": dict(sorted(members.items())),
        "read_only_members": read_only,
    }


def main(argv):
    if len(argv) > 2:
        raise SystemExit(__doc__)
    text = json.dumps(extract(), indent=2, sort_keys=True) + "\n"
    if len(argv) == 2:
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
