"""A Kafka-triggered Lambda handler run by the AWS Lambda Runtime Interface Client.

It reads every field of every record through Powertools' KafkaEvent, so an event that does
not have AWS's shape fails here as it would in Lambda. What it does is chosen by the values:
- a value containing "poison" raises (a function error, retried by the event source mapping);
- a value containing "sleep" sleeps past the function's timeout;
- anything else succeeds, after HANDLER_DELAY_MS milliseconds (0 if unset).
"""

import os
import time

from aws_lambda_powertools.utilities.data_classes import KafkaEvent


def read_record(record):
    """Touches every field, decoding key, value and headers as a real handler would."""
    assert isinstance(record.topic, str) and record.topic, "topic"
    assert isinstance(record.partition, int) and record.partition >= 0, "partition"
    assert isinstance(record.offset, int) and record.offset >= 0, "offset"
    assert isinstance(record.timestamp, int), "timestamp"
    assert record.timestamp_type in ("CREATE_TIME", "LOG_APPEND_TIME"), "timestampType"
    key = record.decoded_key if record.key is not None else None
    value = record.decoded_value if record.value is not None else None
    headers = record.decoded_headers
    assert all(isinstance(v, bytes) for v in headers.values()), "headers"
    return key, value


DELAY_S = int(os.environ.get("HANDLER_DELAY_MS", "0")) / 1000


def handler(event, context):
    kafka = KafkaEvent(event)
    assert kafka.event_source in ("SelfManagedKafka", "aws:kafka"), kafka.event_source
    values = []
    partitions = set()
    for record in kafka.records:
        _, value = read_record(record)
        partitions.add((record.topic, record.partition))
        values.append(value or b"")
    print(f"{context.aws_request_id}: {len(values)} records of {len(partitions)} partitions")
    if any(b"poison" in v for v in values):
        raise ValueError("a poison record")
    if any(b"sleep" in v for v in values):
        time.sleep(context.get_remaining_time_in_millis() / 1000 + 5)
    time.sleep(DELAY_S)
    return {"batchItemFailures": []}
