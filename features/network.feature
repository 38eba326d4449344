Feature: Network faults between the pollers and the brokers
  The pollers reach the brokers only through proxies the brokers advertise, so a cut or a delay
  hits every connection of the mapping and none of the harness's own.

  Background:
    Given a Kafka broker
    And a topic "orders" with 2 partitions
    And a Lambda function "process" that succeeds
    And an event source mapping "esm" from "orders" to "process" with:
      | ConsumerGroupId | orders-group |

  Scenario: A 10-second cut delays delivery but loses nothing
    When records are produced to "orders" at 20 per second for 8 seconds
    And the mapping "esm" is started
    And 2 seconds pass
    And the network between "esm" and the broker is cut for 10 seconds
    Then within 60 seconds "process" has received every record of "orders"
    And within 60 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds

  Scenario: 300 ms of latency slows the mapping but keeps order
    When the network between "esm" and the broker is slowed by 300 ms
    And 50 records are produced to "orders"
    And the mapping "esm" is started
    Then within 60 seconds "process" has received every record of "orders"
    And within 60 seconds the group "orders-group" has committed the end of "orders"
    And each partition of "orders" reached "process" in offset order
    And every guarantee holds
