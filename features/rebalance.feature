Feature: Rebalances hand partitions over cleanly

  Background:
    Given a Kafka broker
    And a Lambda function "process" that takes 20 ms per invocation

  Scenario: New partitions of a growing topic are picked up
    Given a topic "orders" with 2 partitions
    And an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
    When 20 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders"
    When the topic "orders" grows to 4 partitions
    And 40 records are produced to "orders"
    Then within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: Pollers joining and leaving under load never share a partition
    Given a topic "orders" with 4 partitions
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 5            |
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 40 per second for 12 seconds
    And the mapping "esm" is started with 2 pollers
    And 2 seconds pass
    And the mapping "esm" scales to 4 pollers
    And 2 seconds pass
    And a poller of "esm" is killed
    And 2 seconds pass
    And the mapping "esm" scales to 2 pollers
    Then within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And at most one invocation per partition of "orders" was in flight at any time
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds
