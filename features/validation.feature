Feature: An invalid mapping is refused before the consumer connects, naming the field

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition
    And a Lambda function "process" that succeeds

  Scenario Outline: <field> = <value> is refused
    Given an event source mapping "esm" from "orders" to "process" with:
      | <field> | <value> |
    Then the mapping "esm" fails to start with an error mentioning "<message>"

    Examples:
      | field                          | value     | message                 |
      | BatchSize                      | 0         | BatchSize               |
      | BatchSize                      | 10001     | allowed 1 to 10000      |
      | StartingPosition               | EARLIEST  | StartingPosition        |
      | MaximumBatchingWindowInSeconds | 301       | MaximumBatchingWindowInSeconds |
      | MaximumRetryAttempts           | 10001     | MaximumRetryAttempts    |
      | MaximumRecordAgeInSeconds      | 30        | MaximumRecordAgeInSeconds |
      | ConsumerGroupId                | bad group | ConsumerGroupId         |
      | FunctionResponseTypes          | Everything | FunctionResponseTypes  |
      | BatchSizee                     | 10        | unknown field           |

  Scenario: A pasted mapping with a missing required field
    Given an event source mapping "esm" configured as:
      """json
      { "FunctionName": "process", "Topics": ["orders"] }
      """
    Then the mapping "esm" fails to start with an error mentioning "StartingPosition"
