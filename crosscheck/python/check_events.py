"""Reads every sample event in a folder with Powertools for AWS Lambda (Python) and prints the
canonical form (see canonical.py), one JSON line per event:

  check_events.py data-class <folder>   the KafkaEvent data class
  check_events.py model <folder>        the parser models KafkaSelfManagedEventModel / KafkaMskEventModel

A field Powertools requires and the event lacks, or a value it cannot read, becomes an "error"
line naming the record and field, which the comparison reports.
"""

import json
import sys
from datetime import datetime, timedelta, timezone

from aws_lambda_powertools.shared.functions import decode_header_bytes
from aws_lambda_powertools.utilities.data_classes import KafkaEvent
from aws_lambda_powertools.utilities.parser.models import KafkaMskEventModel, KafkaSelfManagedEventModel
from pydantic import ValidationError

from canonical import hex_or_none, print_lines, signed

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def with_list_keys(raw_lists, records):
    """Pairs the records an iterator yields with their list keys (the dict's order), sorted."""
    keys = [k for k, chunk in raw_lists.items() for _ in chunk]
    return sorted(zip(keys, records), key=lambda pair: pair[0])


def data_class_event(body):
    raw = json.loads(body)
    event = KafkaEvent(raw)
    records = []
    for list_key, r in with_list_keys(raw.get("records") or {}, event.records):
        at = f"record {list_key}@{r.get('offset')}"
        try:
            headers = [[name, signed(decode_header_bytes(data))] for h in r.headers for name, data in h.items()]
            records.append({
                "list": list_key,
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": r.timestamp,
                "timestampType": r.timestamp_type,
                "key": hex_or_none(r.decoded_key),
                "value": hex_or_none(r.decoded_value),
                "headers": headers,
            })
        except KeyError as e:
            raise KeyError(f"{at}: missing field {e}") from e
    return {
        "eventSource": event.event_source,
        "eventSourceArn": event.event_source_arn,
        "bootstrapServers": event.bootstrap_servers,
        "recordKeys": sorted((raw.get("records") or {}).keys()),
        "records": records,
    }


def epoch_ms(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def model_event(body):
    raw = json.loads(body)
    source = raw.get("eventSource")
    model_class = {"SelfManagedKafka": KafkaSelfManagedEventModel, "aws:kafka": KafkaMskEventModel}.get(source)
    if model_class is None:
        raise ValueError(f"eventSource {source!r} has no Powertools Kafka model")
    try:
        model = model_class.model_validate_json(body)
    except ValidationError as e:
        fields = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ValueError(f"{model_class.__name__}: {fields}") from e
    records = []
    for list_key in sorted(model.records):
        for r in model.records[list_key]:
            records.append({
                "list": list_key,
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": epoch_ms(r.timestamp),
                "timestampType": r.timestampType,
                "key": hex_or_none(r.key),
                # The model reads the value as UTF-8 text.
                "value": r.value.encode("utf-8").hex(),
                "headers": [[name, signed(data)] for h in r.headers for name, data in h.items()],
            })
    return {
        "eventSource": model.eventSource,
        "eventSourceArn": getattr(model, "eventSourceArn", None),
        "bootstrapServers": ",".join(model.bootstrapServers),
        "recordKeys": sorted(model.records),
        "records": records,
    }


PARSERS = {
    "data-class": (data_class_event, "Powertools KafkaEvent data class"),
    "model": (model_event, "Powertools parser model"),
}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in PARSERS:
        raise SystemExit(f"usage: check_events.py {{{'|'.join(PARSERS)}}} <folder of sample events>")
    parse, name = PARSERS[sys.argv[1]]
    print_lines(sys.argv[2], parse, name)
