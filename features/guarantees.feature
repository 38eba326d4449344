Feature: Guarantees a faulty consumer breaks
  Each scenario pins one promise of AWS's Kafka event source mapping that a plausible consumer
  bug breaks: where an out-of-range committed offset restarts, what a clean stop commits, what a
  restart redelivers, when a record is too old, and the shape of a destination record.
  Each fails against the consumer built with that defect (scripts/defects.sh) and is fast.

  Background:
    Given a Kafka broker

  Scenario: LATEST restarts at the log end when retention deleted the committed offset
    Given a topic "orders" with 1 partition whose records are deleted after 10 seconds
    And a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition | LATEST       |
      | ConsumerGroupId  | orders-group |
    When the mapping "esm" is started
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 10 records are produced to "orders"
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    When the mapping "esm" is disabled
    And 10 records are produced to "orders"
    Then within 60 seconds the topic "orders" holds 0 records
    When 5 records are produced to "orders"
    And the mapping "esm" is enabled
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
    And 5 records are produced to "orders"
    Then within 30 seconds "process" has received the value "order-30"
    And "process" never received the value "order-21"
    And "process" never received the value "order-25"

  Scenario: AT_TIMESTAMP restarts at its timestamp when retention deleted the committed offset
    Given a topic "orders" with 1 partition whose records are deleted after 10 seconds
    And a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | StartingPosition          | AT_TIMESTAMP |
      | StartingPositionTimestamp | now          |
      | ConsumerGroupId           | orders-group |
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    When the mapping "esm" is disabled
    And 10 records are produced to "orders"
    Then within 60 seconds the topic "orders" holds 0 records
    When a record with value "old" stamped 120 seconds ago is produced to "orders"
    And 5 records are produced to "orders"
    And the mapping "esm" is enabled
    Then within 30 seconds "process" has received the value "order-25"
    And "process" never received the value "old"

  Scenario: A clean stop commits what succeeded before the pollers leave
    Given a topic "orders" with 1 partition
    And a Lambda function "slow" that takes 1500 ms per invocation
    And an event source mapping "esm" from "orders" to "slow" with:
      | BatchSize                      | 5            |
      | MaximumBatchingWindowInSeconds | 1            |
      | ConsumerGroupId                | orders-group |
    When 5 records are produced to "orders"
    And the mapping "esm" is started
    And the mapping "esm" is disabled during an invocation
    Then the group "orders-group" has committed offset 5 on partition 0 of "orders"

  Scenario: A mapping disabled during an invocation resumes after what it committed
    Given a topic "orders" with 3 partitions
    And a Lambda function "slow" that takes 1000 ms per invocation
    And an event source mapping "esm" from "orders" to "slow" with:
      | BatchSize        | 5            |
      | StartingPosition | TRIM_HORIZON |
      | ConsumerGroupId  | orders-group |
    When 45 records are produced to "orders"
    And the mapping "esm" is started
    And the mapping "esm" is disabled during an invocation
    And the mapping "esm" is enabled
    Then within 60 seconds "slow" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "slow" received every record of "orders" at most 1 time
    And each partition of "orders" reached "slow" in offset order
    And every guarantee holds

  Scenario: A record older than MaximumRecordAgeInSeconds goes to the destination at once
    Given a topic "orders" with 1 partition
    And a Lambda function "process" that fails
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRecordAgeInSeconds               | 60                 |
      | MaximumRetryAttempts                    | -1                 |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When a record with value "old" stamped 120 seconds ago is produced to "orders"
    And the mapping "esm" is started
    Then within 15 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record whose "requestContext.condition" is "RecordAgeExceeded"
    And within 30 seconds the group "orders-group" has committed the end of "orders"

  Scenario: A destination record carries every field of AWS's example
    Given a topic "orders" with 1 partition
    And a Lambda function "process" that fails
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRetryAttempts                    | 1                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When 1 record with key "customer-7" is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record whose "requestContext.requestId" matches "^\S+$"
    And the topic "orders-dlq" holds a failure record whose "requestContext.functionArn" matches "^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:process$"
    And the topic "orders-dlq" holds a failure record whose "requestContext.condition" is "RetryAttemptsExhausted"
    And the topic "orders-dlq" holds a failure record whose "requestContext.approximateInvokeCount" is "2"
    And the topic "orders-dlq" holds a failure record whose "responseContext.statusCode" is "200"
    And the topic "orders-dlq" holds a failure record whose "responseContext.executedVersion" is "$LATEST"
    And the topic "orders-dlq" holds a failure record whose "responseContext.functionError" is "Unhandled"
    And the topic "orders-dlq" holds a failure record whose "version" is "1.0"
    And the topic "orders-dlq" holds a failure record whose "timestamp" matches "^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
    And the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.batchSize" is "1"
    And the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.eventSourceArn" matches "^(arn:aws:kafka:\S+)?$"
    And the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.bootstrapServers" matches "^[^,\s]+:\d+(,[^,\s]+:\d+)*$"
    And the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.payloadSize" matches "^[1-9]\d*$"
    And the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.recordInfo.offset" is "0"
    And the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.recordInfo.timestamp" matches "^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
    And the topic "orders-dlq" holds a failure record whose "payload.eventSource" matches "^(aws:kafka|SelfManagedKafka)$"
    And every guarantee holds
