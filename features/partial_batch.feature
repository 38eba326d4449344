Feature: ReportBatchItemFailures retries only the records the function names as failed

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition

  # AWS: a partial batch response lets "Lambda retry only the failed records". The records the
  # function did not name succeeded: they reach it once, before and after the failed one; the
  # failed record is retried alone and, when the retries run out, goes to the destination.
  Scenario: Only the failed record is retried; the others are done
    Given a Lambda function "process" that reports item failures for records whose value contains "poison"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                               | 10                      |
      | MaximumBatchingWindowInSeconds          | 1                       |
      | FunctionResponseTypes                   | ReportBatchItemFailures |
      | MaximumRetryAttempts                    | 1                       |
      | ConsumerGroupId                         | orders-group            |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq      |
      | ProvisionedPollerConfig.MinimumPollers  | 1                       |
    When 4 records are produced to "orders"
    And a record with value "poison" is produced to "orders"
    And 5 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "poison" with condition "RetryAttemptsExhausted"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" was invoked with the value "order-1" 1 time
    And "process" was invoked with the value "order-4" 1 time
    And "process" was invoked with the value "order-6" 1 time
    And "process" was invoked with the value "order-10" 1 time
    And "process" was invoked with the value "poison" 2 times
    And every guarantee holds

  Scenario: An empty list of failures means the whole batch succeeded
    Given a Lambda function "process" that reports item failures for records whose value contains "never-there"
    And an event source mapping "esm" from "orders" to "process" with:
      | FunctionResponseTypes                  | ReportBatchItemFailures |
      | ConsumerGroupId                        | orders-group            |
      | ProvisionedPollerConfig.MinimumPollers | 1                       |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
