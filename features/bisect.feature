Feature: BisectBatchOnFunctionError isolates a poison record
  A failing batch is split in two and each half retried, down to single records, so one poison
  record cannot hold the good ones back.

  Scenario: Only the poison record reaches the destination
    Given a Kafka broker
    And a topic "orders" with 1 partition
    And a Lambda function "process" that fails for records whose value contains "poison"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                               | 10                 |
      | MaximumBatchingWindowInSeconds          | 1                  |
      | BisectBatchOnFunctionError              | true               |
      | MaximumRetryAttempts                    | 0                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When 4 records are produced to "orders"
    And a record with value "poison" is produced to "orders"
    And 5 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "poison" with condition "RetryAttemptsExhausted"
    And within 30 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds
