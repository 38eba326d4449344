Feature: Events of every shape reach the function intact
  The events here carry keys and no keys, several partitions in one event, a header whose
  bytes are negative as Java prints them, JSON and large values, for a self-managed cluster and
  for MSK. The three keys land on the three partitions (librdkafka's default partitioner). `.ci/crosscheck.sh` runs this feature with ESM_CHAOS_EVENT_SAMPLES set and parses what
  the function received with Powertools for AWS Lambda (data class and parser model),
  aws-lambda-java-events and aws_lambda_events, comparing each with the raw JSON.

  Background:
    Given a Kafka broker
    And a topic "orders" with 3 partitions
    And a Lambda function "process" that succeeds

  Scenario: A self-managed cluster's events hold every record shape
    Given an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                      | 100          |
      | MaximumBatchingWindowInSeconds | 1            |
      | ConsumerGroupId                | orders-group |
    When 10 records with key "customer-7" are produced to "orders"
    And 10 records with key "customer-8" are produced to "orders"
    And 10 records with key "customer-9" are produced to "orders"
    And 30 records are produced to "orders"
    And a record with header "trace" set to "é" is produced to "orders"
    And a record with value '{"kind": "order", "note": "naïve café ✓"}' is produced to "orders"
    And 3 records of 100 KB are produced to "orders"
    And the mapping "esm" is started
    Then within 60 seconds "process" has received every record of "orders" exactly once
    And "process" received the header "trace" as the bytes "-61,-87"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: An MSK cluster's events say aws:kafka and carry the cluster ARN
    Given an event source mapping "esm" from "orders" to "process" with:
      | EventSourceArn                 | arn:aws:kafka:us-east-1:123456789012:cluster/orders/abc-1 |
      | BatchSize                      | 50                                                       |
      | MaximumBatchingWindowInSeconds | 1                                                        |
      | ConsumerGroupId                | orders-group                                             |
    When 10 records with key "customer-9" are produced to "orders"
    And 20 records are produced to "orders"
    And a record with header "trace" set to "é" is produced to "orders"
    And the mapping "esm" is started
    Then within 60 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds
