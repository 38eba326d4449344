Feature: StartingPosition applies only where the group has no committed offset

  Background:
    Given a Kafka broker
    And a topic "orders" with 2 partitions
    And a Lambda function "process" that succeeds

  Scenario: TRIM_HORIZON reads the records produced before the mapping existed
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | TRIM_HORIZON |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once

  Scenario: LATEST skips the records produced before the mapping started
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | LATEST |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 10 records are produced to "orders"
    Then within 30 seconds "process" has received the value "order-30"
    And "process" received no record of "orders" produced before the mapping "esm" started
    And "process" never received the value "order-1"

  Scenario: A group's committed offsets win over StartingPosition
    Given an event source mapping "first" from "orders" to "process" with:
      | StartingPosition | TRIM_HORIZON |
      | ConsumerGroupId  | shared-group |
    And an event source mapping "second" from "orders" to "process" with:
      | StartingPosition | LATEST       |
      | ConsumerGroupId  | shared-group |
    When 10 records are produced to "orders"
    And the mapping "first" is started
    Then within 30 seconds the group "shared-group" has committed the end of "orders"
    When the mapping "first" is disabled
    And 5 records are produced to "orders"
    And the mapping "second" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once

  Scenario: AT_TIMESTAMP starts at the first record at or after the timestamp
    When 10 records are produced to "orders"
    And 2 seconds pass
    And an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition          | AT_TIMESTAMP |
      | StartingPositionTimestamp | now          |
    And 10 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value "order-20"
    And "process" never received the value "order-10"
    And "process" never received the value "order-1"

  Scenario: The event carries keys, values and headers as AWS encodes them
    Given an event source mapping "esm" from "orders" to "process"
    When a record with header "trace" set to "é" is produced to "orders"
    And 2 records with key "customer-7" are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders"
    And "process" received the header "trace" as the bytes "-61,-87"
