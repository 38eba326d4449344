Feature: Frozen pollers come back without losing records
  SIGSTOP freezes a poller mid-flight: its heartbeats stop, the group may evict it, and when it
  wakes it must rejoin rather than carry on as a zombie.

  Background:
    Given a Kafka broker
    And a topic "orders" with 2 partitions
    And a Lambda function "process" that takes 20 ms per invocation

  Scenario: A freeze shorter than the session timeout changes nothing
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 20 per second for 6 seconds
    And the mapping "esm" is started
    And 2 seconds pass
    And the mapping "esm" is frozen for 3 seconds
    Then within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: A freeze longer than the session timeout ends in a rejoin, not a loss
    Given an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 20 per second for 6 seconds
    And the mapping "esm" is started with 2 pollers
    And 2 seconds pass
    And the mapping "esm" is frozen for 15 seconds
    Then within 60 seconds "process" has received every record of "orders"
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds
