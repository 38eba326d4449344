Feature: Pollers in one consumer group share the partitions

  Background:
    Given a Kafka broker
    And a topic "orders" with 4 partitions
    And a Lambda function "process" that takes 20 ms per invocation

  Scenario: Two pollers deliver every record with one invocation per partition in flight
    Given an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 5            |
      | ConsumerGroupId | orders-group |
    When 200 records are produced to "orders"
    And the mapping "esm" is started with 2 pollers
    Then the mapping "esm" runs 2 pollers
    And within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And at most one invocation per partition of "orders" was in flight at any time
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds

  Scenario: Scaling up and down hands partitions over cleanly
    Given an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 5            |
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 40 per second for 12 seconds
    And the mapping "esm" is started with 1 poller
    And 3 seconds pass
    And the mapping "esm" scales to 3 pollers
    And 3 seconds pass
    And the mapping "esm" scales to 1 poller
    Then within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And at most one invocation per partition of "orders" was in flight at any time
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds

  Scenario: There are never more pollers than partitions
    Given a topic "small" with 2 partitions
    And an event source mapping "esm" from "small" to "process"
    When the mapping "esm" is started with 5 pollers
    Then the mapping "esm" runs 2 pollers

  Scenario: The offset lag falls to 0 once every record is processed
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
    When 100 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders"
    And the mapping "esm" reports an offset lag of 0 within 30 seconds
