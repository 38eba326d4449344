Feature: A mapping disabled mid-invocation stops cleanly
  Enabled=false (SIGTERM to the pollers) while a call is in flight: the call finishes, what
  succeeded is committed, the pollers leave the group, and nothing is delivered twice.

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition

  Scenario: The in-flight batch is finished and committed before the pollers leave
    Given a Lambda function "slow" that takes 2000 ms per invocation
    And an event source mapping "esm" from "orders" to "slow" with:
      | BatchSize                      | 10           |
      | MaximumBatchingWindowInSeconds | 1            |
      | ConsumerGroupId                | orders-group |
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    And the mapping "esm" is disabled during an invocation
    Then the group "orders-group" has committed offset 10 on partition 0 of "orders"
    And "slow" received every record of "orders" at most 1 time
    When 5 records are produced to "orders"
    And the mapping "esm" is enabled
    Then within 30 seconds "slow" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds
