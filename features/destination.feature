Feature: Records whose retries ran out go to the on-failure destination

  Background:
    Given a Kafka broker
    And a topic "orders" with 2 partitions

  Scenario: Each failed record is one well-formed message keyed by the record's key
    Given a Lambda function "process" that fails
    And an event source mapping "esm" from "orders" to "process" with:
      | MaximumRetryAttempts                    | 1                  |
      | ConsumerGroupId                         | orders-group       |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq |
      | ProvisionedPollerConfig.MinimumPollers  | 1                  |
    When 3 records with key "customer-7" are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds the topic "orders-dlq" holds 3 records
    And the topic "orders-dlq" holds a failure record for the value "order-2" with condition "RetryAttemptsExhausted"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: The destination may not be the source topic
    Given a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | DestinationConfig.OnFailure.Destination | kafka://orders |
      | ProvisionedPollerConfig.MinimumPollers  | 1              |
    Then the mapping "esm" fails to start with an error mentioning "must not be the source topic"
