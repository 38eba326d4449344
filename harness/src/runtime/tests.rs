//! The Runtime API server against a small runtime written on Python's standard library (the
//! official clients run against it in examples/ and features/real_function.feature).

use super::*;
use crate::history::{EnvironmentChange, InvocationOutcome};
use base64::Engine;
use serde_json::json;

const RUNTIME: &str = r#"
import json, os, sys, time, urllib.error, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
def post(path, body, headers={}):
    req = urllib.request.Request(api + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    return urllib.request.urlopen(req).status
def probe(method, path, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(api + path, data=data, method=method)) as r:
            return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]
    except OSError as e:
        return [0, str(e)]
mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
if mode == "init-error":
    post("/init/error", {"errorMessage": "no module handler", "errorType": "Runtime.ImportModuleError"},
         {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    sys.exit(1)
if mode == "exit":
    print("cannot start: missing config", flush=True)
    sys.exit(3)
while True:
    with urllib.request.urlopen(api + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline_ms = int(r.headers["Lambda-Runtime-Deadline-Ms"])
        arn = r.headers["Lambda-Runtime-Invoked-Function-Arn"]
        trace = r.headers["Lambda-Runtime-Trace-Id"]
        event = json.loads(r.read())
    import base64
    values = [base64.b64decode(rec["value"]).decode() for recs in event["records"].values() for rec in recs]
    if "die" in values:
        os._exit(7)
    if "sleep" in values:
        time.sleep(deadline_ms / 1000 - time.time() + 5)
    if "probe" in values:
        post("/invocation/" + rid + "/response", {"unknown": probe("GET", "/invocation/next/x"),
             "stale": probe("POST", "/invocation/nope/response", b"{}")})
        continue
    if "huge" in values:
        print(probe("POST", "/invocation/" + rid + "/response", b"x" * 6291457), flush=True)
        continue
    if "poison" in values:
        post("/invocation/" + rid + "/error", {"errorMessage": "poison", "errorType": "ValueError"},
             {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
        continue
    time.sleep(float(os.environ.get("DELAY_S", "0")))
    status = post("/invocation/" + rid + "/response", {"pid": os.getpid(), "arn": arn, "trace": trace,
        "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "remaining_ms": deadline_ms - time.time() * 1000,
        "task_root": os.environ["LAMBDA_TASK_ROOT"], "handler": os.environ["_HANDLER"]})
    assert status == 202, status
"#;

struct Fixture {
    function: RealFunction,
    history: History,
    _dir: tempfile::TempDir,
}

async fn start(
    args: &str,
    configure: impl FnOnce(&mut FunctionSpec),
) -> Result<Fixture, RuntimeError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("runtime.py"), RUNTIME).unwrap();
    let mut spec = FunctionSpec::new("process", &format!("python3 runtime.py {args}"), dir.path());
    configure(&mut spec);
    let history = History::new();
    let recorder = MockLambda::start(history.clone()).await;
    let function =
        RealFunction::start(spec, recorder, history.clone(), &dir.path().join("logs")).await?;
    Ok(Fixture {
        function,
        history,
        _dir: dir,
    })
}

fn event(value: &str) -> String {
    let value = base64::engine::general_purpose::STANDARD.encode(value);
    json!({"eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:9092", "records": {"orders-0": [
        {"topic": "orders", "partition": 0, "offset": 1, "timestamp": 1, "timestampType": "CREATE_TIME",
         "value": value, "headers": []}]}})
    .to_string()
}

async fn invoke(
    endpoint: &str,
    function: &str,
    value: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{endpoint}/2015-03-31/functions/{function}/invocations"
        ))
        .body(event(value))
        .send()
        .await
        .expect("the endpoint answers");
    let status = response.status().as_u16();
    let error = response
        .headers()
        .get("X-Amz-Function-Error")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, error, body)
}

/// The calls of "process" as the history, the one store of invocations, holds them: each
/// call's outcome and values.
fn calls(history: &History) -> Vec<(InvocationOutcome, Vec<Option<String>>)> {
    crate::history::invocations(&history.snapshot())
        .filter(|inv| inv.function == "process")
        .map(|inv| {
            let values = inv.records.iter().map(|r| r.value.clone()).collect();
            (inv.outcome, values)
        })
        .collect()
}

fn outcomes(history: &History) -> Vec<InvocationOutcome> {
    calls(history)
        .into_iter()
        .map(|(outcome, _)| outcome)
        .collect()
}

fn changes(history: &History) -> Vec<EnvironmentChange> {
    history
        .snapshot()
        .into_iter()
        .filter_map(|e| match &e.kind {
            EventKind::Environment { change, .. } => Some(change.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_warm_environment_is_reused_with_the_documented_headers() {
    let f = start("", |_| {}).await.unwrap();
    let endpoint = f.function.endpoint();
    let (status, error, first) = invoke(&endpoint, "process", "a").await;
    assert_eq!((status, error), (200, None), "{first}");
    assert_eq!(
        first["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:process"
    );
    assert_eq!(first["name"], "process");
    assert_eq!(first["handler"], "runtime.py");
    assert!(first["trace"].as_str().unwrap().starts_with("Root=1-"));
    let remaining_ms = first["remaining_ms"].as_f64().unwrap();
    assert!((0.0..=3_000.0).contains(&remaining_ms), "{remaining_ms}");
    let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aprocess";
    let (_, _, second) = invoke(&endpoint, arn, "b").await;
    assert_eq!(
        first["pid"], second["pid"],
        "the second call reuses the environment"
    );
    assert_eq!(f.function.environment_count(), 1);
    let calls = calls(&f.history);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].0, InvocationOutcome::Success);
    assert_eq!(calls[1].1, [Some("b".to_string())]);
    let invoked: Vec<bool> = changes(&f.history)
        .into_iter()
        .filter_map(|c| match c {
            EnvironmentChange::Invoked { cold, .. } => Some(cold),
            _ => None,
        })
        .collect();
    assert_eq!(
        invoked,
        [false, false],
        "the first environment started at definition"
    );
    let (status, _, _) = invoke(&endpoint, "other", "a").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_handler_error_is_unhandled_with_the_runtime_body() {
    let f = start("", |_| {}).await.unwrap();
    let (status, error, body) = invoke(&f.function.endpoint(), "process", "poison").await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    assert_eq!(
        body,
        json!({"errorMessage": "poison", "errorType": "ValueError"})
    );
    assert_eq!(outcomes(&f.history), [InvocationOutcome::FunctionError]);
}

#[tokio::test]
async fn a_timeout_kills_the_environment_and_the_next_call_starts_cold() {
    let f = start("", |s| s.timeout_ms = 1_000).await.unwrap();
    let endpoint = f.function.endpoint();
    let (status, error, body) = invoke(&endpoint, "process", "sleep").await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.ends_with("Task timed out after 1.00 seconds"),
        "{message}"
    );
    let (status, error, _) = invoke(&endpoint, "process", "a").await;
    assert_eq!((status, error), (200, None));
    let changes = changes(&f.history);
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, EnvironmentChange::TimedOut { .. })),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, EnvironmentChange::Invoked { cold: true, .. })),
        "{changes:?}"
    );
    assert_eq!(f.function.environment_count(), 1);
}

#[tokio::test]
async fn past_the_reserved_concurrency_a_call_is_throttled() {
    let slow = start("", |s| {
        s.reserved_concurrency = 1;
        s.command = format!("DELAY_S=0.5 {}", s.command);
    })
    .await
    .unwrap();
    let slow_endpoint = slow.function.endpoint();
    let busy = tokio::spawn(async move { invoke(&slow_endpoint, "process", "a").await });
    crate::wait::until_every(
        "a call in flight",
        Duration::from_secs(5),
        Duration::from_millis(5),
        || async {
            match slow.function.in_flight() {
                0 => Err("none in flight".to_string()),
                _ => Ok(()),
            }
        },
    )
    .await
    .unwrap();
    let throttled = reqwest::Client::new()
        .post(format!(
            "{}/2015-03-31/functions/process/invocations",
            slow.function.endpoint()
        ))
        .body(event("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(
        throttled.headers()["x-amzn-ErrorType"],
        "TooManyRequestsException"
    );
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("ReservedFunctionConcurrentInvocationLimitExceeded")
    );
    assert_eq!(busy.await.unwrap().0, 200);
    assert_eq!(
        outcomes(&slow.history),
        [InvocationOutcome::Success, InvocationOutcome::Throttled],
        "both recorded, by start: the busy call began first"
    );
    let (status, _, _) = invoke(&slow.function.endpoint(), "process", "c").await;
    assert_eq!(status, 200, "the slot is free again");
}

#[tokio::test]
async fn concurrent_calls_get_one_environment_each() {
    let f = start("", |s| s.command = format!("DELAY_S=0.3 {}", s.command))
        .await
        .unwrap();
    let endpoint = f.function.endpoint();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move { invoke(&endpoint, "process", "a").await })
        })
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    for call in calls {
        let (status, _, body) = call.await.unwrap();
        assert_eq!(status, 200, "{body}");
        pids.insert(body["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 3);
    assert_eq!(f.function.environment_count(), 3);
}

#[tokio::test]
async fn a_crash_fails_the_call_in_flight_and_a_new_environment_replaces_it() {
    let f = start("", |s| s.command = format!("DELAY_S=2 {}", s.command))
        .await
        .unwrap();
    let endpoint = f.function.endpoint();
    let call = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move { invoke(&endpoint, "process", "a").await })
    };
    crate::wait::until_every(
        "a call in flight",
        Duration::from_secs(5),
        Duration::from_millis(5),
        || async {
            match f.function.in_flight() {
                0 => Err("none in flight".to_string()),
                _ => Ok(()),
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(f.function.crash().await, 1);
    let (status, error, body) = call.await.unwrap();
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("signal: killed"),
        "{body}"
    );
    let (status, error, _) = invoke(&endpoint, "process", "die").await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    let exits: Vec<_> = changes(&f.history)
        .into_iter()
        .filter_map(|c| match c {
            EnvironmentChange::Exited { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(exits, ["signal: killed", "exit status 7"]);
}

#[tokio::test]
async fn startup_failures_name_the_command_its_status_and_its_output() {
    let failure = |r: Result<Fixture, RuntimeError>| match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the function started"),
    };
    let missing = failure(start("", |s| s.command = "./no-such-runtime".into()).await);
    assert!(missing.contains("\"./no-such-runtime\""), "{missing}");
    assert!(
        missing.contains("exit status 127") && missing.contains("not found"),
        "{missing}"
    );
    let init = failure(start("init-error", |_| {}).await);
    assert!(
        init.contains("init error: Runtime.ImportModuleError"),
        "{init}"
    );
    let exit = failure(start("exit", |_| {}).await);
    assert!(
        exit.contains("exit status 3") && exit.contains("missing config"),
        "{exit}"
    );
    let invalid = failure(start("", |s| s.reserved_concurrency = 0).await);
    assert!(invalid.contains("reserved concurrency 0"), "{invalid}");
}

#[tokio::test]
async fn a_served_function_is_recorded_and_called_one_at_a_time() {
    let target_history = History::new();
    let target = MockLambda::start(target_history.clone()).await;
    target.define("process", crate::lambda::Mode::Succeed);
    target.set_delay_ms("process", 200);
    let history = History::new();
    let recorder = MockLambda::start(history.clone()).await;
    let served = ServedFunction::start(
        "process",
        &target.endpoint(),
        recorder.clone(),
        history.clone(),
    )
    .await
    .unwrap();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let endpoint = served.endpoint();
            tokio::spawn(async move { invoke(&endpoint, "process", "a").await.0 })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    let target_events = target_history.snapshot();
    let mut seen: Vec<_> = crate::history::invocations(&target_events).collect();
    seen.sort_by_key(|i| i.start_ms);
    assert!(
        seen.windows(2).all(|w| w[1].start_ms >= w[0].end_ms),
        "calls overlapped: {seen:?}"
    );
    assert_eq!(seen.len(), 3);
    assert_eq!(outcomes(&history).len(), 3);
    let nobody =
        ServedFunction::start("process", "http://127.0.0.1:1", recorder, History::new()).await;
    assert!(matches!(nobody, Err(RuntimeError::Invalid(why)) if why.contains("nothing accepts")));
}

#[tokio::test]
async fn requests_the_api_cannot_take_are_answered_with_their_fault() {
    let f = start("", |_| {}).await.unwrap();
    let endpoint = f.function.endpoint();
    let (status, _, body) = invoke(&endpoint, "process", "probe").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["unknown"],
        json!([
            404,
            r#"{"errorMessage":"no Runtime API resource /2018-06-01/runtime/invocation/next/x","errorType":"NotFound"}"#
        ])
    );
    assert_eq!(
        body["stale"],
        json!([
            400,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
        ])
    );
    let (status, error, body) = invoke(&endpoint, "process", "huge").await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    assert_eq!(
        body["errorMessage"],
        "Response payload size exceeded maximum allowed payload size (6291456 bytes)."
    );
}
