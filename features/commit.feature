Feature: Offsets are committed only after their records succeeded
  The mapping commits a partition's offset after every record below it succeeded, so a
  restart never skips a record the function did not take.

  Background:
    Given a Kafka broker
    And a Lambda function "process" that succeeds

  Scenario: Commits reach the end of the topic once every batch succeeded
    Given a topic "orders" with 3 partitions
    And an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
      | BatchSize       | 10           |
    When 100 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And no offset was committed before its records succeeded
    And each partition of "orders" reached "process" in offset order
    And at most one invocation per partition of "orders" was in flight at any time
    And every guarantee holds

  Scenario: A failing record holds its partition's commit back
    Given a topic "payments" with 1 partition
    And a Lambda function "charge" that fails for records whose value contains "poison"
    And an event source mapping "esm" from "payments" to "charge" with:
      | ConsumerGroupId | payments-group |
      | BatchSize       | 1              |
    When 5 records are produced to "payments"
    And a record with value "poison" is produced to "payments"
    And 4 records are produced to "payments"
    And the mapping "esm" is started
    Then within 30 seconds the group "payments-group" has committed offset 5 on partition 0 of "payments"
    And within 30 seconds "charge" has received the value "poison"
    When 3 seconds pass
    Then the group "payments-group" has committed offset 5 on partition 0 of "payments"
    And "charge" never received the value "payment-6"
    And no offset was committed before its records succeeded

  Scenario: A batch that failed twice is retried whole and then committed
    Given a topic "orders" with 2 partitions
    And a Lambda function "flaky" that fails 2 times then succeeds
    And an event source mapping "esm" from "orders" to "flaky" with:
      | ConsumerGroupId | flaky-group |
    When 30 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "flaky" has received every record of "orders"
    And within 30 seconds the group "flaky-group" has committed the end of "orders"
    And no offset was committed before its records succeeded
    And each partition of "orders" reached "flaky" in offset order
