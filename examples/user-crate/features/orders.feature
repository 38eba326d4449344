Feature: Our orders mapping starts where we expect and commits what it processed

  Background:
    Given a Kafka broker
    And a topic "orders" with 2 partitions
    And a Lambda function "process" that succeeds

  Scenario: TRIM_HORIZON delivers every order once and commits the end
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | TRIM_HORIZON |
      | ConsumerGroupId  | orders-group |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"

  Scenario: LATEST skips the orders produced before the mapping started
    Given an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | LATEST |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 10 records are produced to "orders"
    Then within 30 seconds "process" has received the value "order-30"
    And "process" never received the value "order-1"
