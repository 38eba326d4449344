"""The comparison catches what it claims to: `python3 -m unittest test_compare` (stdlib only)."""

import base64
import copy
import json
import unittest

from canonical import raw_event, signed
from compare import aws_lambda_events_millis, differences, shapes_missing

BODY = json.dumps({
    "eventSource": "SelfManagedKafka",
    "bootstrapServers": "127.0.0.1:9092",
    "records": {
        "orders-1": [{"topic": "orders", "partition": 1, "offset": 4, "timestamp": 1545084650987,
                      "timestampType": "CREATE_TIME", "value": base64.b64encode(b"v").decode(),
                      "headers": [{"trace": [-61, -87]}]}],
        "orders-0": [{"topic": "orders", "partition": 0, "offset": 7, "timestamp": 1545084650988,
                      "timestampType": "CREATE_TIME", "key": base64.b64encode(b"k").decode(),
                      "value": base64.b64encode(b"w").decode(), "headers": []}],
    },
})


class Compare(unittest.TestCase):
    def setUp(self):
        self.reference = raw_event(BODY)

    def test_records_are_sorted_by_list_key_and_decoded(self):
        self.assertEqual([r["list"] for r in self.reference["records"]], ["orders-0", "orders-1"])
        self.assertEqual(self.reference["records"][0]["key"], b"k".hex())
        self.assertIsNone(self.reference["records"][1]["key"])

    def test_an_equal_reading_has_no_difference(self):
        self.assertEqual(list(differences("java", self.reference, copy.deepcopy(self.reference), {})), [])

    def test_an_unsigned_header_byte_is_a_difference(self):
        parsed = copy.deepcopy(self.reference)
        parsed["records"][1]["headers"] = [["trace", [195, 169]]]
        found = list(differences("java", self.reference, parsed, {}))
        self.assertEqual(found, [("record orders-1@4", "headers", [["trace", [-61, -87]]], [["trace", [195, 169]]])])

    def test_a_missing_record_and_an_event_field_are_differences(self):
        parsed = copy.deepcopy(self.reference)
        parsed["records"].pop()
        parsed["bootstrapServers"] = None
        fields = [f for _, f, _, _ in differences("java", self.reference, parsed, {})]
        self.assertEqual(fields, ["bootstrapServers", "number of records"])

    def test_the_known_timestamp_deviation_is_exact(self):
        self.assertEqual(aws_lambda_events_millis(1545084650987), 1545084650986)
        parsed = copy.deepcopy(self.reference)
        parsed["records"][1]["timestamp"] = 1545084650986
        deviations = {}
        self.assertEqual(list(differences("aws_lambda_events", self.reference, parsed, deviations)), [])
        self.assertEqual(deviations, {("aws_lambda_events", "timestamp"): 1})
        parsed["records"][1]["timestamp"] = 1545084650985
        self.assertEqual(len(list(differences("aws_lambda_events", self.reference, parsed, {}))), 1)
        parsed["records"][1]["timestamp"] = 1545084650986
        self.assertEqual(len(list(differences("java", self.reference, parsed, {}))), 1)

    def test_shapes_name_what_the_samples_lack(self):
        missing = shapes_missing([self.reference])
        self.assertNotIn("a header byte above 127 (negative as a signed byte)", missing)
        self.assertNotIn("an event holding several partitions", missing)
        self.assertIn("a record with two headers of one name", missing)
        self.assertIn("a value of 65536 bytes or more", missing)

    def test_signed_matches_java_bytes(self):
        self.assertEqual(signed("é".encode()), [-61, -87])


if __name__ == "__main__":
    unittest.main()
