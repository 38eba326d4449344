Feature: An invalid mapping is refused before the consumer connects, naming the field

  Background:
    Given a Kafka broker
    And a topic "orders" with 1 partition
    And a Lambda function "process" that succeeds

  # Provisioned mode is on, so each value is refused for its range alone.
  Scenario Outline: <field> = <value> is refused
    Given an event source mapping "esm" from "orders" to "process" with:
      | <field>                                | <value> |
      | ProvisionedPollerConfig.MinimumPollers | 1       |
    Then the mapping "esm" fails to start with an error mentioning "<message>"

    Examples:
      | field                                  | value      | message                        |
      | BatchSize                              | 0          | BatchSize                      |
      | BatchSize                              | 10001      | allowed 1 to 10000             |
      | StartingPosition                       | EARLIEST   | StartingPosition               |
      | MaximumBatchingWindowInSeconds         | 301        | MaximumBatchingWindowInSeconds |
      | MaximumRetryAttempts                   | 10001      | -1 (infinite) or 0 to 10000    |
      | MaximumRecordAgeInSeconds              | 30         | -1 (infinite) or 60 to 604800  |
      | ConsumerGroupId                        | bad!group  | ConsumerGroupId                |
      | FunctionResponseTypes                  | Everything | FunctionResponseTypes          |
      | BatchSizee                             | 10         | unknown field                  |
      | ProvisionedPollerConfig.MaximumPollers | 2001       | allowed 1 to 2000              |

  # "Configuring error handling controls for Kafka event sources" and "Using a Kafka topic as an
  # on-failure destination": only available for event source mappings with provisioned mode.
  Scenario Outline: <field> needs ProvisionedPollerConfig
    Given an event source mapping "esm" from "orders" to "process" with:
      | <field> | <value> |
    Then the mapping "esm" fails to start with an error mentioning "<field> = "
    And the mapping "esm" fails to start with an error mentioning "add ProvisionedPollerConfig"

    Examples:
      | field                                   | value                   |
      | MaximumRetryAttempts                    | 2                       |
      | MaximumRecordAgeInSeconds               | 60                      |
      | BisectBatchOnFunctionError              | true                    |
      | FunctionResponseTypes                   | ReportBatchItemFailures |
      | DestinationConfig.OnFailure.Destination | kafka://orders-dlq      |

  Scenario: Every fault of a mapping is reported at once
    Given an event source mapping "esm" from "orders" to "process" with:
      | BatchSize                  | 0     |
      | MaximumRetryAttempts       | 10001 |
      | BisectBatchOnFunctionError | true  |
    Then the mapping "esm" fails to start with an error mentioning "invalid mapping config: 3 faults"
    And the mapping "esm" fails to start with an error mentioning "BatchSize = 0: allowed 1 to 10000"
    And the mapping "esm" fails to start with an error mentioning "MaximumRetryAttempts = 10001: allowed -1 (infinite) or 0 to 10000"
    And the mapping "esm" fails to start with an error mentioning "BisectBatchOnFunctionError = true: only available for event source mappings with provisioned mode enabled"

  Scenario: More filters than Lambda's default quota of 5
    Given an event source mapping "esm" configured as:
      """json
      { "FunctionName": "process", "Topics": ["orders"], "StartingPosition": "TRIM_HORIZON",
        "FilterCriteria": { "Filters": [
          { "Pattern": "{\"value\": [1]}" }, { "Pattern": "{\"value\": [2]}" },
          { "Pattern": "{\"value\": [3]}" }, { "Pattern": "{\"value\": [4]}" },
          { "Pattern": "{\"value\": [5]}" }, { "Pattern": "{\"value\": [6]}" } ] } }
      """
    Then the mapping "esm" fails to start with an error mentioning "at most 5"

  Scenario: A pasted mapping with a missing required field
    Given an event source mapping "esm" configured as:
      """json
      { "FunctionName": "process", "Topics": ["orders"] }
      """
    Then the mapping "esm" fails to start with an error mentioning "StartingPosition"

  # What `aws lambda get-event-source-mapping` prints: read-only fields, FunctionArn instead of
  # FunctionName, an empty on-failure destination, the real cluster's servers (replaced by the
  # test broker's) and SourceAccessConfigurations (accepted, not emulated, named in a warning).
  Scenario: A pasted get-event-source-mapping output starts and delivers
    Given an event source mapping "esm" configured as:
      """json
      {
        "UUID": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 1,
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:process",
        "LastModified": "2026-11-20T09:14:03.112000+00:00",
        "LastProcessingResult": "OK",
        "State": "Enabled",
        "StateTransitionReason": "USER_INITIATED",
        "DestinationConfig": { "OnFailure": {} },
        "Topics": ["orders"],
        "SourceAccessConfigurations": [
          { "Type": "SASL_SCRAM_512_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-kafka" }
        ],
        "SelfManagedEventSource": { "Endpoints": { "KAFKA_BOOTSTRAP_SERVERS": [
          "b-1.orders.kafka.example.com:9096", "b-2.orders.kafka.example.com:9096" ] } },
        "SelfManagedKafkaEventSourceConfig": { "ConsumerGroupId": "orders-group" },
        "EventSourceMappingArn": "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
      }
      """
    When 10 records are produced to "orders"
    And the mapping "esm" is started
    Then within 30 seconds "process" has received every record of "orders" exactly once
    And within 30 seconds the group "orders-group" has committed the end of "orders"
    And every guarantee holds
