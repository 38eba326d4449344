Feature: Answers as AWS and local runtimes really give them
  Local runtimes drop the X-Amz-Function-Error header; the Lambda service fails on its own;
  ReportBatchItemFailures retries only what failed; destination records carry ISO-8601 times;
  an invalid mapping names every fault at once (ESM-SPEC sections 1, 3 and 5).

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition

  # The Runtime Interface Emulator and `sam local` answer 200 with an error body and no header:
  # read as a success, the record would be committed and never reach the destination.
  Scenario: A handler error without the header is still a function error
    Given a Lambda function "process" that fails like a local runtime
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRetryAttempts                    | 1                  |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
    When a record with value "boom" is produced to "orders"
    And the mapping "esm" is started
    Then within 20 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "boom" with condition "RetryAttemptsExhausted"
    And "process" was invoked with the value "boom" 2 times
    And within 20 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  # The batch never reached the function, so no attempt is used up (ESM-SPEC section 3): with
  # no retries allowed, a counted service error would send every record to the destination.
  Scenario: Service errors are retried without counting as attempts
    Given a Lambda function "process" whose endpoint answers 503 2 times then succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRetryAttempts                    | 0                  |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 20 seconds the group "orders-group" has committed the end of "orders"
    And within 5 seconds the topic "orders-dlq" holds 0 records
    And every guarantee holds

  Scenario: ReportBatchItemFailures retries only the records that failed
    Given a Lambda function "process" that reports item failures for records whose value contains "poison"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                               | 10                      |
      | MaximumBatchingWindowInSeconds          | 1                       |
      | FunctionResponseTypes                   | ReportBatchItemFailures |
      | MaximumRetryAttempts                    | 2                       |
      | ProvisionedPollerConfig.MinimumPollers  | 1                       |
      | ConsumerGroupId                         | orders-group            |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq      |
    When 2 records are produced to "orders"
    And a record with value "poison" is produced to "orders"
    And 2 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "poison" with condition "RetryAttemptsExhausted"
    And "process" was invoked with the value "poison" 3 times
    And "process" was invoked with the value "order-1" 1 time
    And "process" was invoked with the value "order-4" 1 time
    And within 20 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: A failure record's timestamps are ISO-8601, as in AWS's example
    Given a Lambda function "process" that fails
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRetryAttempts                    | 0                  |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
    When a record with value "boom" is produced to "orders"
    And the mapping "esm" is started
    Then within 20 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.recordInfo.timestamp" matches "^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
    And the topic "orders-dlq" holds a failure record whose "timestamp" matches "^\d{4}-\d{2}-\d{2}T"
    And the topic "orders-dlq" holds a failure record whose "requestContext.condition" is "RetryAttemptsExhausted"

  Scenario: Every fault of a mapping is named in one refusal
    Given a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                              | 0     |
      | MaximumRetryAttempts                   | 10001 |
      | ProvisionedPollerConfig.MinimumPollers | 1     |
    Then the mapping "esm" fails to start with errors mentioning "BatchSize" and "MaximumRetryAttempts"

  Scenario: A start step followed by an expected refusal leaves the verdict to that step
    Given a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize | 0 |
    When the mapping "esm" is started
    Then the mapping "esm" fails to start with an error mentioning "BatchSize"
