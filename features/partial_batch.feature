Feature: ReportBatchItemFailures retries a partition from its lowest failed offset

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition

  # When the retries run out, only the lowest failed record goes to the destination and the
  # records after it are retried as a fresh batch (AWS documents nothing here): so they can reach
  # the function three times, while the records before the failure reach it once.
  Scenario: Records before the failed one are done; the rest of the batch is retried
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
    And "process" received every record of "orders" at most 3 times
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
