Feature: Your real function in the loop, not a mock
  The handler runs as Lambda execution environments speaking the Lambda Runtime API: Python on
  the official Runtime Interface Client (awslambdaric) with Powertools' KafkaEvent, Rust on the
  official lambda_runtime crate with aws_lambda_events' KafkaEvent. Commands run in this folder.
  A value containing "poison" makes either handler fail, one containing "sleep" makes it sleep
  past its timeout; HANDLER_DELAY_MS makes every invocation take that long.

  Background:
    Given a Kafka broker

  Scenario Outline: Every record reaches the <runtime> handler exactly once
    Given a topic "orders" with 2 partitions
    And a Lambda function "process" running "<bootstrap>"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 10           |
      | ConsumerGroupId | orders-group |
    When 50 records are produced to "orders"
    And the mapping "esm" is started
    Then within 60 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

    Examples:
      | runtime | bootstrap                            |
      | Python  | ../examples/python-handler/bootstrap |
      | Rust    | ../examples/rust-handler/bootstrap   |

  Scenario Outline: A raising <runtime> handler is retried, then its record goes to the destination
    Given a topic "orders" with 1 partition
    And a Lambda function "process" running "<bootstrap>"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                               | 1                  |
      | MaximumRetryAttempts                    | 2                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When 2 records are produced to "orders"
    And a record with value "poison" is produced to "orders"
    And 2 records are produced to "orders"
    And the mapping "esm" is started
    Then within 60 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "poison" with condition "RetryAttemptsExhausted"
    And "process" was invoked with the value "poison" 3 times
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

    Examples:
      | runtime | bootstrap                            |
      | Python  | ../examples/python-handler/bootstrap |
      | Rust    | ../examples/rust-handler/bootstrap   |

  Scenario Outline: A <runtime> handler past its timeout fails and its environment is replaced
    Given a topic "orders" with 1 partition
    And a Lambda function "process" running "<bootstrap>" with a timeout of 1 second
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                               | 1                  |
      | MaximumRetryAttempts                    | 1                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When a record with value "sleep" is produced to "orders"
    And 2 records are produced to "orders"
    And the mapping "esm" is started
    Then within 60 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "sleep" with condition "RetryAttemptsExhausted"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" was invoked with the value "sleep" 2 times
    And the function "process" had 2 timeouts
    And the function "process" had at least 3 cold starts
    And every guarantee holds

    Examples:
      | runtime | bootstrap                            |
      | Python  | ../examples/python-handler/bootstrap |
      | Rust    | ../examples/rust-handler/bootstrap   |

  Scenario Outline: Reserved concurrency 1 on 3 partitions throttles the <runtime> handler and loses nothing
    Given a topic "orders" with 3 partitions
    And a Lambda function "process" running "HANDLER_DELAY_MS=100 <bootstrap>" with reserved concurrency 1
    # One record per batch, so each partition has a call of its own in flight at once (a payload
    # may carry several partitions, which would let one call take them all).
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 1            |
      | ConsumerGroupId | orders-group |
    # Three keys that land on the three partitions, so every partition has work at once.
    When 20 records with key "customer-7" are produced to "orders"
    And 20 records with key "customer-8" are produced to "orders"
    And 20 records with key "customer-9" are produced to "orders"
    And the mapping "esm" is started with 3 pollers
    Then within 90 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And the function "process" had at least 1 throttle
    And the function "process" had 1 cold start
    And every guarantee holds

    Examples:
      | runtime | bootstrap                            |
      | Python  | ../examples/python-handler/bootstrap |
      | Rust    | ../examples/rust-handler/bootstrap   |

  Scenario Outline: The <runtime> function crashes under load and nothing is lost
    Given a topic "orders" with 3 partitions
    And a Lambda function "process" running "HANDLER_DELAY_MS=50 <bootstrap>"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 10           |
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 50 per second for 6 seconds
    And the mapping "esm" is started with 3 pollers
    And within 30 seconds "process" has received the value "order-20"
    And the function "process" crashes
    Then within 90 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And the function "process" had at least 1 crash
    And the function "process" had at least 2 cold starts
    And every guarantee holds

    Examples:
      | runtime | bootstrap                            |
      | Python  | ../examples/python-handler/bootstrap |
      | Rust    | ../examples/rust-handler/bootstrap   |
