Feature: FilterCriteria keeps unmatched records from the function and commits them

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition
    And a Lambda function "process" that succeeds

  Scenario: A JSON equality filter
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group                   |
      | FilterCriteria  | {"value": {"type": ["order"]}} |
    When a record with value '{"type": "refund", "id": 1}' is produced to "orders"
    And a record with value '{"type": "order", "id": 2}' is produced to "orders"
    And a record with value '{"type": "refund", "id": 3}' is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value '{"type": "order", "id": 2}'
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value '{"type": "refund", "id": 1}'
    And "process" never received the value '{"type": "refund", "id": 3}'
    And every guarantee holds

  Scenario: Numeric ranges and anything-but
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group                                                                |
      | FilterCriteria  | {"value": {"amount": [{"numeric": [">", 100]}], "status": [{"anything-but": ["void"]}]}} |
    When a record with value '{"amount": 50, "status": "ok"}' is produced to "orders"
    And a record with value '{"amount": 500, "status": "void"}' is produced to "orders"
    And a record with value '{"amount": 500, "status": "ok"}' is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value '{"amount": 500, "status": "ok"}'
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value '{"amount": 50, "status": "ok"}'
    And "process" never received the value '{"amount": 500, "status": "void"}'

  Scenario: A plain-string value with a prefix filter
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group                   |
      | FilterCriteria  | {"value": [{"prefix": "keep"}]} |
    When a record with value "keep-1" is produced to "orders"
    And a record with value "drop-1" is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value "keep-1"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value "drop-1"
