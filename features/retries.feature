Feature: Failed batches are retried until they succeed or the retries run out

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition

  Scenario: MaximumRetryAttempts bounds the attempts and the record goes to the destination
    Given a Lambda function "process" that fails for records whose value contains "poison"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                               | 1                  |
      | MaximumRetryAttempts                    | 2                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When 3 records are produced to "orders"
    And a record with value "poison" is produced to "orders"
    And 3 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "poison" with condition "RetryAttemptsExhausted"
    And "process" was invoked with the value "poison" 3 times
    And within 30 seconds "process" has received the value "order-7"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: Without a destination an exhausted record is skipped and processing goes on
    Given a Lambda function "process" that fails for records whose value contains "poison"
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                              | 1            |
      | MaximumRetryAttempts                   | 0            |
      | ConsumerGroupId                        | orders-group |
      | ProvisionedPollerConfig.MinimumPollers | 1            |
    When a record with value "poison" is produced to "orders"
    And 5 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received the value "order-6"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "process" was invoked with the value "poison" 1 time

  Scenario: A function that fails a few times then succeeds delivers every record
    Given a Lambda function "process" that fails 2 times then succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRetryAttempts                   | 2            |
      | ConsumerGroupId                        | orders-group |
      | ProvisionedPollerConfig.MinimumPollers | 1            |
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" 3 times
    And within 30 seconds the group "orders-group" has committed the end of "orders"

  Scenario: Throttling is retried without counting as an attempt
    Given a Lambda function "process" that is throttled 3 times then succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRetryAttempts                   | 0            |
      | ConsumerGroupId                        | orders-group |
      | ProvisionedPollerConfig.MinimumPollers | 1            |
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: The function starts failing and recovers without losing a record
    Given a Lambda function "process" that fails
    And an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    And 3 seconds pass
    Then the group "orders-group" has committed offset 0 on partition 0 of "orders"
    When the function "process" starts succeeding
    Then within 30 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  # With infinite retries and a destination AWS caps the retries at 10, which would end first:
  # a large MaximumRetryAttempts lets the age limit (60 s at the least) decide. The record is
  # stamped 45 s in the past, so it is young enough to be sent and ages out while it is retried,
  # in seconds rather than a real minute.
  Scenario: A record older than MaximumRecordAgeInSeconds goes to the destination
    Given a Lambda function "process" that fails
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRecordAgeInSeconds               | 60                 |
      | MaximumRetryAttempts                    | 10000              |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When a record with value "stale" stamped 45 seconds ago is produced to "orders"
    And the mapping "esm" is started
    Then within 15 seconds "process" has received the value "stale"
    And within 45 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record for the value "stale" with condition "RecordAgeExceeded"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
