//! The handler on the official `lambda_runtime` client, run by the harness's Runtime API server:
//! the client is the oracle for the server, and `cargo test` builds the binary the feature file
//! runs.

use base64::Engine;
use harness::history::{self, History};
use harness::lambda::MockLambda;
use harness::runtime::{FunctionSpec, RealFunction};

fn event(value: &str) -> String {
    let value = base64::engine::general_purpose::STANDARD.encode(value);
    serde_json::json!({"eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:9092",
        "records": {"orders-0": [{"topic": "orders", "partition": 0, "offset": 3, "timestamp": 1,
        "timestampType": "CREATE_TIME", "key": null, "value": value, "headers": [{"h": [104]}]}],
        "orders-1": [{"topic": "orders", "partition": 1, "offset": 9, "timestamp": 1,
        "timestampType": "LOG_APPEND_TIME", "value": null, "headers": []}]}})
    .to_string()
}

#[tokio::test]
async fn the_lambda_runtime_client_succeeds_fails_and_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FunctionSpec::new("process", env!("CARGO_BIN_EXE_rust-handler"), dir.path());
    spec.timeout_ms = 1_000;
    let history = History::new();
    let recorder = MockLambda::start(history.clone()).await;
    let function = RealFunction::start(spec, recorder, history.clone(), &dir.path().join("logs"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!(
        "{}/2015-03-31/functions/process/invocations",
        function.endpoint()
    );
    let call = |value: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.post(&url).body(event(value)).send().await.unwrap();
            let error = response
                .headers()
                .get("X-Amz-Function-Error")
                .map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value = response.json().await.unwrap();
            (error, body)
        }
    };
    let (error, body) = call("order-1").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body, serde_json::json!({"batchItemFailures": []}));
    let (error, body) = call("poison").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorMessage"], "a poison record", "{body}");
    let (error, body) = call("sleep").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Task timed out after 1.00 seconds"),
        "{body}"
    );
    let (error, _) = call("order-2").await;
    assert_eq!(
        error, None,
        "a new environment replaced the one that timed out"
    );
    let events = history.snapshot();
    let calls: Vec<_> = history::invocations(&events).collect();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[0].records.len(), 2, "both partitions decoded");
    function.stop().await;
}
