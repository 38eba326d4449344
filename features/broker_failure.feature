Feature: Broker failures delay delivery but lose nothing
  These scenarios restart or kill brokers, so each gets a broker of its own and runs alone.

  Scenario: The broker restarts under load
    Given a Kafka broker
    And a topic "orders" with 2 partitions
    And a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 20 per second for 8 seconds
    And the mapping "esm" is started
    And 2 seconds pass
    And the broker is restarted
    Then within 60 seconds "process" has received every record of "orders"
    And within 60 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: One broker of three dies and comes back
    Given a Kafka cluster of 3 brokers
    And a topic "orders" with 3 partitions
    And a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |
    When records are produced to "orders" at 20 per second for 8 seconds
    And the mapping "esm" is started
    And 2 seconds pass
    And broker 2 is killed
    And 4 seconds pass
    And broker 2 is started
    Then within 60 seconds "process" has received every record of "orders"
    And within 60 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds
