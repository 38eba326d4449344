//! The Invoke API in front of a real function (`POST /2015-03-31/functions/{name}/invocations`),
//! answering as Lambda's Invoke does ("Invoke", https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html):
//! 200 with the function's response; 200 with `X-Amz-Function-Error: Unhandled` and the error
//! body for a handler error, a timeout or a crash; 429 `TooManyRequestsException` past the
//! reserved concurrency.

use super::api;
use super::decide::{self, Admission};
use super::environment::{Ending, Environment, Reply, Work};
use super::http::{self, Body};
use super::{Function, INIT_TIMEOUT_MS};
use crate::history::{EnvironmentChange, InvocationOutcome, ItemFailure};
use crate::lambda::{self, Invocation, MockLambda, ParsedEvent};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A call as it arrived: the function segment of the path, the body, the decoded event.
pub(super) struct Call {
    pub segment: String,
    pub body: Bytes,
    pub event: Result<ParsedEvent, String>,
}

/// What the caller gets back, and how it enters the history.
pub(super) struct Answer {
    pub status: StatusCode,
    pub function_error: bool,
    pub body: Bytes,
    pub outcome: InvocationOutcome,
    pub item_failures: Vec<ItemFailure>,
}

impl Answer {
    fn function_error(body: impl Into<Bytes>) -> Answer {
        Answer {
            status: StatusCode::OK,
            function_error: true,
            body: body.into(),
            outcome: InvocationOutcome::FunctionError,
            item_failures: Vec::new(),
        }
    }

    fn response(body: Bytes) -> Answer {
        let item_failures = api::item_failures(&body);
        Answer {
            status: StatusCode::OK,
            function_error: false,
            outcome: api::response_outcome(&item_failures),
            body,
            item_failures,
        }
    }

    /// Lambda's answer past the reserved concurrency ("Lambda function scaling",
    /// https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html).
    fn throttled() -> Answer {
        let body = serde_json::json!({
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            "Type": "User",
            "message": "Rate Exceeded.",
        });
        Answer {
            status: StatusCode::TOO_MANY_REQUESTS,
            function_error: false,
            body: Bytes::from(body.to_string()),
            outcome: InvocationOutcome::Throttled,
            item_failures: Vec::new(),
        }
    }

    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let mut headers = vec![
            ("x-amzn-RequestId", request_id),
            ("X-Amz-Executed-Version", "$LATEST"),
        ];
        if self.function_error {
            headers.push(("X-Amz-Function-Error", "Unhandled"));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            headers.push(("x-amzn-ErrorType", "TooManyRequestsException"));
        }
        http::answer(self.status, &headers, self.body)
    }
}

/// Reads an Invoke call for a function named `name`; anything else gets the service's error.
pub(super) async fn read_call(
    name: &str,
    request: Request<Incoming>,
) -> Result<Call, Response<Body>> {
    let path = request.uri().path().to_string();
    let segment = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .filter(|s| !s.contains('/'));
    let (&Method::POST, Some(segment)) = (request.method(), segment) else {
        return Err(http::service_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!("no Invoke API route {} {path}", request.method()),
        ));
    };
    if !lambda::function_candidates(segment)
        .iter()
        .any(|c| c == name)
    {
        return Err(http::service_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {}", lambda::percent_decode(segment)),
        ));
    }
    let segment = segment.to_string();
    let body = http::read_body(request.into_body(), lambda::BODY_BYTES_MAX)
        .await
        .map_err(|why| {
            http::service_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                &format!(
                    "request body is too large: {why}; the Invoke API takes at most {} bytes",
                    lambda::PAYLOAD_BYTES_MAX
                ),
            )
        })?;
    let event = lambda::parse_event(&body);
    Ok(Call {
        segment,
        body,
        event,
    })
}

/// Records a call in the mock's list and the history, exactly as the mock records its own;
/// a malformed event is recorded as such. Returns the invocation's id.
pub(super) fn record(
    recorder: &MockLambda,
    function: &str,
    start_ms: u64,
    end_ms: u64,
    event: Result<ParsedEvent, String>,
    answer: &Answer,
    kept_body: Option<String>,
) -> u64 {
    let (event, malformed) = match event {
        Ok(event) => (event, None),
        Err(why) => (
            ParsedEvent {
                event_source: String::new(),
                event_source_arn: None,
                records: Vec::new(),
            },
            Some(why),
        ),
    };
    recorder.record_invocation(
        Invocation {
            id: 0,
            function: function.to_string(),
            start_ms,
            end_ms,
            status: answer.status.as_u16(),
            outcome: answer.outcome,
            records: event.records,
            item_failures: answer.item_failures.clone(),
            event_source: event.event_source,
            event_source_arn: event.event_source_arn,
            malformed,
        },
        kept_body,
    )
}

/// What became of the environment an invocation ran in.
enum Aftermath {
    Kept,
    TimedOut,
    Exited(String),
}

/// One Invoke call of a real function.
pub(super) async fn invoke(function: &Arc<Function>, request: Request<Incoming>) -> Response<Body> {
    let start_ms = function.history.now_ms();
    let call = match read_call(&function.spec.name, request).await {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    // Kept for the checkers' own parser, exactly as the mock keeps what it receives.
    let kept_body = function.history.keep_body(&call.body);
    let (answer, used) = run(function, &request_id, call.body).await;
    let end_ms = function.history.now_ms();
    let id = record(
        &function.recorder,
        &function.spec.name,
        start_ms,
        end_ms,
        call.event,
        &answer,
        kept_body,
    );
    if let Some((environment, cold, aftermath)) = used {
        function.record_change(
            start_ms,
            environment,
            EnvironmentChange::Invoked {
                invocation: id,
                cold,
            },
        );
        match aftermath {
            Aftermath::Kept => {}
            Aftermath::TimedOut => function.record_change(
                end_ms,
                environment,
                EnvironmentChange::TimedOut { invocation: id },
            ),
            Aftermath::Exited(status) => function.record_change(
                end_ms,
                environment,
                EnvironmentChange::Exited {
                    invocation: Some(id),
                    status,
                },
            ),
        }
    }
    answer.into_response(&request_id)
}

/// Holds one unit of the function's concurrency until dropped.
struct Slot<'a>(&'a Function);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut pool = self.0.pool();
        pool.in_flight = pool.in_flight.saturating_sub(1);
    }
}

/// Admits, finds or starts an environment, runs the invocation in it.
async fn run(
    function: &Arc<Function>,
    request_id: &str,
    body: Bytes,
) -> (Answer, Option<(u32, bool, Aftermath)>) {
    let admission = {
        let mut pool = function.pool();
        let pool = &mut *pool;
        let admission = decide::admit(
            pool.in_flight,
            function.spec.reserved_concurrency,
            &mut pool.free,
        );
        if admission != Admission::Throttle {
            pool.in_flight += 1;
        }
        admission
    };
    if admission == Admission::Throttle {
        return (Answer::throttled(), None);
    }
    let _slot = Slot(function);
    let (env, cold) = match acquire(function, admission).await {
        Ok(found) => found,
        Err(why) => return (Answer::function_error(why), None),
    };
    let timeout_ms = function.spec.timeout_ms;
    let work = Work {
        request_id: request_id.to_string(),
        body,
        deadline_epoch_ms: epoch_ms() + timeout_ms,
        function_arn: function.spec.arn(),
        trace_id: decide::trace_id(epoch_ms() / 1000, rand::random()),
    };
    let ending = env.run(work, Duration::from_millis(timeout_ms)).await;
    let (answer, aftermath) = conclude(function, &env, request_id, ending).await;
    (answer, Some((env.id, cold, aftermath)))
}

/// The answer for how the invocation ended, and what happens to its environment.
async fn conclude(
    function: &Function,
    env: &Arc<Environment>,
    request_id: &str,
    ending: Ending,
) -> (Answer, Aftermath) {
    let answer = match ending {
        Ending::Replied(Reply::Response(body)) => Answer::response(body),
        Ending::Replied(Reply::Error(body)) => Answer::function_error(body),
        Ending::Replied(Reply::TooLarge) => {
            Answer::function_error(decide::too_large_body(lambda::PAYLOAD_BYTES_MAX))
        }
        Ending::NoAnswer => Answer::function_error(decide::no_answer_body(request_id)),
        Ending::TimedOut => {
            function.forget(env.id);
            env.kill().await;
            let body = decide::timeout_body(request_id, function.spec.timeout_ms);
            return (Answer::function_error(body), Aftermath::TimedOut);
        }
        Ending::Exited(status) => {
            function.forget(env.id);
            let status = decide::exit_status_text(status);
            return (
                Answer::function_error(decide::exit_body(request_id, &status)),
                Aftermath::Exited(status),
            );
        }
    };
    let mut pool = function.pool();
    if pool.environments.contains_key(&env.id) {
        pool.free.push(env.id);
    }
    (answer, Aftermath::Kept)
}

/// A warm environment that is ready, else a new one (a cold start). A warm one that died
/// while idle is recorded as exited and replaced.
async fn acquire(
    function: &Function,
    admission: Admission,
) -> Result<(Arc<Environment>, bool), String> {
    if let Admission::Warm(id) = admission {
        let env = function.pool().environments.get(&id).cloned();
        if let Some(env) = env {
            let deadline = Instant::now() + Duration::from_millis(INIT_TIMEOUT_MS);
            if env.ready(deadline).await.is_ok() {
                return Ok((env, false));
            }
            function.forget(id);
            let status = env
                .kill()
                .await
                .map(decide::exit_status_text)
                .unwrap_or_default();
            function.record_change(
                function.history.now_ms(),
                id,
                EnvironmentChange::Exited {
                    invocation: None,
                    status,
                },
            );
        }
    }
    match function
        .start_environment(Duration::from_millis(INIT_TIMEOUT_MS))
        .await
    {
        Ok(env) => Ok((env, true)),
        Err(e) => Err(
            serde_json::json!({"errorType": "Runtime.InitError", "errorMessage": e.to_string()})
                .to_string(),
        ),
    }
}

fn epoch_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}
