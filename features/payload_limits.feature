Feature: Invocations stay within the Invoke API's 6 MB request limit

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition

  Scenario: A batch closes before its request would pass 6 MB
    Given a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                      | 100          |
      | MaximumBatchingWindowInSeconds | 1            |
      | ConsumerGroupId                | orders-group |
    When 12 records of 1 MB are produced to "orders"
    And the mapping "esm" is started
    Then within 60 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: A record too large for any invocation goes to the destination
    Given a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When a record of 7 MB is produced to "orders"
    And a record with value "after" is produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds the topic "orders-dlq" holds 1 record
    And the topic "orders-dlq" holds a failure record with condition "MaximumPayloadSizeExceeded"
    And within 30 seconds "process" has received the value "after"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds
