Feature: Soak: a seeded schedule of faults under steady load
  The schedule comes from the run's seed (printed at start); `esm-chaos run --seed N` replays it.

  Scenario: Every guarantee holds after 30 seconds of random process, broker and network faults
    Given a Kafka broker
    And a topic "orders" with 4 partitions
    And a Lambda function "process" that takes 20 ms per invocation
    And an event source mapping "esm" from "orders" to "process" with:
      | BatchSize       | 10           |
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 50 per second for 30 seconds
    And the mapping "esm" is started with 2 pollers
    And random faults hit the mapping "esm" for 30 seconds
    Then within 90 seconds "process" has received every record of "orders"
    And within 60 seconds the group "orders-group" has committed the end of "orders"
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds
