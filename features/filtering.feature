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

  Scenario: Numbers match exactly as written: 300, 300.0 and 3.0e2 are not equal
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group                  |
      | FilterCriteria  | {"value": {"amount": [300]}}  |
    When a record with value '{"amount": 300.0, "id": 1}' is produced to "orders"
    And a record with value '{"amount": 3.0e2, "id": 2}' is produced to "orders"
    And a record with value '{"amount": 300, "id": 3}' is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value '{"amount": 300, "id": 3}'
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value '{"amount": 300.0, "id": 1}'
    And "process" never received the value '{"amount": 3.0e2, "id": 2}'
    And every guarantee holds

  Scenario: A numeric comparison compares values, however they are written
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group                                        |
      | FilterCriteria  | {"value": {"amount": [{"numeric": [">=", 3e2]}]}}   |
    When a record with value '{"amount": 299.99}' is produced to "orders"
    And a record with value '{"amount": 300.0}' is produced to "orders"
    And a record with value '{"amount": "300"}' is produced to "orders"
    And a record with value '{"amount": 1e3}' is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value '{"amount": 300.0}'
    And within 30 seconds "process" has received the value '{"amount": 1e3}'
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value '{"amount": 299.99}'
    And "process" never received the value '{"amount": "300"}'

  Scenario: $or joins a JSON pattern and a plain-string pattern; each sees only its own form
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group                                                                 |
      | FilterCriteria  | {"$or": [{"value": {"kind": ["order"]}}, {"value": [{"prefix": "order:"}]}]} |
    When a record with value '{"kind": "order"}' is produced to "orders"
    And a record with value "order:7" is produced to "orders"
    And a record with value '{"kind": "refund"}' is produced to "orders"
    And a record with value "refund:7" is produced to "orders"
    And a record with value '{"kind": "order:8"}' is produced to "orders"
    And a record with value "kind order" is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value '{"kind": "order"}'
    And within 30 seconds "process" has received the value "order:7"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value '{"kind": "refund"}'
    And "process" never received the value "refund:7"
    And "process" never received the value '{"kind": "order:8"}'
    And "process" never received the value "kind order"
    And every guarantee holds

  Scenario: cidr, equals-ignore-case and exists, which holds for leaves only
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group                                                                                                    |
      | FilterCriteria  | {"value": {"ip": [{"cidr": "10.0.0.0/24"}], "user": [{"exists": true}], "region": [{"equals-ignore-case": "eu-west-1"}]}} |
    When a record with value '{"ip": "10.0.0.7", "user": "ann", "region": "EU-WEST-1"}' is produced to "orders"
    And a record with value '{"ip": "10.0.1.7", "user": "bob", "region": "eu-west-1"}' is produced to "orders"
    And a record with value '{"ip": "10.0.0.8", "user": {"id": 3}, "region": "eu-west-1"}' is produced to "orders"
    And a record with value '{"ip": "10.0.0.9", "region": "eu-west-1"}' is produced to "orders"
    And a record with value '{"ip": "10.0.0.10", "user": "dan", "region": "us-east-1"}' is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value '{"ip": "10.0.0.7", "user": "ann", "region": "EU-WEST-1"}'
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value '{"ip": "10.0.1.7", "user": "bob", "region": "eu-west-1"}'
    And "process" never received the value '{"ip": "10.0.0.8", "user": {"id": 3}, "region": "eu-west-1"}'
    And "process" never received the value '{"ip": "10.0.0.9", "region": "eu-west-1"}'
    And "process" never received the value '{"ip": "10.0.0.10", "user": "dan", "region": "us-east-1"}'

  Scenario: The filter reads the record's value, never its key
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group              |
      | FilterCriteria  | {"value": ["customer-7"]} |
    When 20 records with key "customer-7" are produced to "orders"
    And a record with value "customer-7" is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value "customer-7"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" never received the value "order-0"
    And "process" never received the value "order-19"
    And every guarantee holds

  Scenario Outline: A pattern outside the documented rules is refused, naming the fault: <fault>
    Given an event source mapping "esm" from "orders" to "process" with:
      | FilterCriteria | <pattern> |
    Then the mapping "esm" fails to start with an error mentioning '<message>'

    Examples:
      | fault                  | pattern                                              | message                         |
      | a key filter           | {"key": ["customer-7"]}                              | only the "value" key, not "key" |
      | an unknown matcher     | {"value": {"a": [{"contains": "x"}]}}                | unknown matcher "contains"      |
      | an empty numeric range | {"value": {"a": [{"numeric": [">", 5, "<", 1]}]}}    | is empty                        |
      | a mixed anything-but   | {"value": {"a": [{"anything-but": ["x", 1]}]}}       | only strings or only numbers    |
      | a bad network          | {"value": {"a": [{"cidr": "10.0.0.0/33"}]}}          | cidr                            |
