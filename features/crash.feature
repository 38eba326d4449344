Feature: Killed pollers lose nothing
  SIGKILL gives a poller no chance to commit or leave the group. Whatever it had not committed is
  delivered again after the restart: at least once, never lost, never out of order.

  Background:
    Given a Kafka broker
    And a topic "orders" with 3 partitions
    And a Lambda function "process" that takes 50 ms per invocation

  Scenario: A killed mapping resumes from its committed offsets
    Given an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 5            |
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 40 per second for 8 seconds
    And the mapping "esm" is started
    And 3 seconds pass
    And the mapping "esm" is killed
    And 2 seconds pass
    And the mapping "esm" is restarted
    Then within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds

  Scenario: A mapping killed during an invocation gets that batch again
    Given a Lambda function "slow" that takes 1000 ms per invocation
    And an event source mapping "esm" from "orders" to "slow" with:
      | BatchSize       | 10           |
      | ConsumerGroupId | orders-group |
    When 30 records are produced to "orders"
    And the mapping "esm" is started
    And the mapping "esm" is killed during an invocation
    And the mapping "esm" is restarted
    Then within 60 seconds "slow" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And "slow" received every record of "orders" at most 2 times
    And every guarantee holds

  Scenario: The surviving pollers take over a killed poller's partitions
    Given an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 5            |
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 40 per second for 8 seconds
    And the mapping "esm" is started with 3 pollers
    And 3 seconds pass
    And a poller of "esm" is killed
    Then within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And the mapping "esm" runs 2 pollers
    And every guarantee holds
