Feature: Records deleted by topic retention while a mapping was off
  A committed offset that retention has deleted is out of range: the mapping falls back to its
  StartingPosition, and the records it never saw are reported as deleted, not lost.

  Scenario: A disabled mapping comes back after its next records were deleted
    Given a Kafka broker
    And a topic "orders" with 1 partition whose records are deleted after 5 seconds
    And a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | TRIM_HORIZON |
      | ConsumerGroupId  | orders-group |
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    When the mapping "esm" is disabled
    And 10 records are produced to "orders"
    Then within 60 seconds the topic "orders" holds 0 records
    When the mapping "esm" is enabled
    And 5 records are produced to "orders"
    Then within 30 seconds "process" has received the value "order-25"
    And "process" never received the value "order-11"
    And "process" never received the value "order-20"
    And every guarantee holds
