Feature: A mapping off for longer than offsets.retention.minutes restarts at its StartingPosition
  Kafka deletes an empty group's committed offsets once offsets.retention.minutes has passed
  since the group became empty. A mapping disabled that long comes back with no committed
  offset: TRIM_HORIZON replays the topic, LATEST skips what arrived while it was off.

  Background:
    Given a Kafka broker with offsets retention of 1 minute
    And a topic "orders" with 2 partitions
    And a Lambda function "process" that succeeds

  @slow
  Scenario: TRIM_HORIZON replays every record after the broker expires the offsets
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | TRIM_HORIZON |
      | ConsumerGroupId  | orders-group |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    When the mapping "esm" is disabled
    And the committed offsets of group "orders-group" expire
    And the mapping "esm" is enabled
    Then within 30 seconds "process" has received every record of "orders" 2 times
    And within 30 seconds the group "orders-group" has committed the end of "orders"

  @slow
  Scenario: LATEST loses the records produced while the offsets expired
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | LATEST       |
      | ConsumerGroupId  | orders-group |
    When the mapping "esm" is started
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 10 records are produced to "orders"
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    When the mapping "esm" is disabled
    And 10 records are produced to "orders"
    And the committed offsets of group "orders-group" expire
    And the mapping "esm" is enabled
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 5 records are produced to "orders"
    Then within 30 seconds "process" has received the value "order-25"
    And "process" never received the value "order-11"
    And "process" never received the value "order-20"

  Scenario: TRIM_HORIZON replays every record after the offsets are deleted
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | TRIM_HORIZON |
      | ConsumerGroupId  | orders-group |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    When the mapping "esm" is disabled
    And the committed offsets of group "orders-group" are deleted
    And the mapping "esm" is enabled
    Then within 30 seconds "process" has received every record of "orders" 2 times
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: LATEST skips the records produced while the offsets were gone
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | LATEST       |
      | ConsumerGroupId  | orders-group |
    When the mapping "esm" is started
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 10 records are produced to "orders"
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    When the mapping "esm" is disabled
    And 10 records are produced to "orders"
    And the committed offsets of group "orders-group" are deleted
    And the mapping "esm" is enabled
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 5 records are produced to "orders"
    Then within 30 seconds "process" has received the value "order-25"
    And "process" never received the value "order-11"
    And "process" never received the value "order-20"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds
