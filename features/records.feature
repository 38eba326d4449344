Feature: Records as production writes them reach the function as AWS sends them
  Empty values, tombstones, old records and several partitions at once: what real topics hold
  and what a handler must be ready for (ESM-SPEC section 2, "Kafka retry configurations").

  Background:
    Given a Kafka broker
    And a Lambda function "process" that succeeds

  Scenario: An empty value arrives as "" and a tombstone arrives without a value
    Given a topic "orders" with 1 partition
    And an event source mapping "esm" from "orders" to "process"
    When a record with an empty value is produced to "orders"
    And a record with a null value is produced to "orders"
    And 3 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And "process" received a record of "orders" with an empty value
    And "process" received a record of "orders" without a value
    And every guarantee holds

  # MaximumRecordAgeInSeconds is checked before every invocation: a record stamped past it is
  # never sent, however young the mapping is, so no minute of waiting is needed.
  Scenario: A record older than MaximumRecordAgeInSeconds goes to the destination unsent
    Given a topic "orders" with 1 partition
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRecordAgeInSeconds               | 60                 |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
    When a record with value "old" stamped 120 seconds ago is produced to "orders"
    And 3 records are produced to "orders"
    And the mapping "esm" is started
    Then within 20 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record whose "requestContext.condition" is "RecordAgeExceeded"
    And the topic "orders-dlq" holds a failure record for the value "old" with condition "RecordAgeExceeded"
    And within 20 seconds "process" has received the value "order-3"
    And "process" was invoked with the value "order-1" 1 time
    And "process" never received the value "old"
    And within 20 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  # The keys hash (CRC32, the producer's default partitioner) to partitions 0, 1 and 2.
  Scenario: One payload holds the ready records of several partitions
    Given a topic "orders" with 3 partitions
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                      | 100 |
      | MaximumBatchingWindowInSeconds | 1   |
    When 10 records with key "customer-1" are produced to "orders"
    And 10 records with key "customer-5" are produced to "orders"
    And 10 records with key "customer-3" are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And an invocation of "process" held records of 2 partitions
    And at most one invocation per partition of "orders" was in flight at any time
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds
