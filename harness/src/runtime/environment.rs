//! One execution environment: the user's command as a child process, with its own Runtime API
//! listener (so every request is known to come from it, as in Lambda where each environment
//! has its own `AWS_LAMBDA_RUNTIME_API`).
//!
//! Runtime API version 2018-06-01 as "Using the Lambda runtime API for custom runtimes"
//! documents it (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
//! `GET invocation/next`, `POST invocation/{id}/response`, `POST invocation/{id}/error`,
//! `POST init/error`, with the `Lambda-Runtime-*` headers.

use super::api::{self, Route};
use super::http::{self, Body};
use super::{FunctionSpec, RuntimeError};
use crate::lambda::PAYLOAD_BYTES_MAX;
use crate::procs::{self, ChildProc};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

/// Error bodies a runtime posts are kept up to this size.
const ERROR_BYTES_MAX: usize = 1024 * 1024;
/// How often a waiting invocation looks whether its environment's process is still alive.
const EXIT_POLL_MS: u64 = 20;
/// Lines of an environment's output quoted when it fails to start.
pub(super) const OUTPUT_TAIL_LINES: usize = 20;

/// An invocation handed to the runtime through `invocation/next`.
#[derive(Debug)]
pub(super) struct Work {
    pub request_id: String,
    pub body: Bytes,
    pub deadline_epoch_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
}

/// What the runtime answered.
#[derive(Debug)]
pub(super) enum Reply {
    Response(Bytes),
    /// The error body as posted (Lambda passes it to the caller as is).
    Error(Bytes),
    /// The response passed the payload limit (its size).
    TooLarge,
}

enum Phase {
    /// Started; the runtime has not asked for work yet.
    Init,
    /// The runtime waits in `invocation/next` for this sender.
    Waiting(oneshot::Sender<Work>),
    /// Working on `request_id`; its answer goes to `reply`.
    Busy {
        request_id: String,
        reply: oneshot::Sender<Reply>,
    },
    /// Answered; the runtime has not asked for the next invocation yet.
    Answered,
    /// It posted `init/error`: why, as [`api::init_error_text`] reads it.
    InitFailed(String),
}

/// The state the Runtime API handlers and the invoker share.
struct Mailbox {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Mailbox {
    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.phase() = phase;
        self.changed.notify_waiters();
    }
}

/// Why an environment could not take an invocation.
#[derive(Debug)]
pub(super) enum NotReady {
    InitError(String),
    Exited(ExitStatus),
    Silent,
}

/// How an invocation ended in an environment.
#[derive(Debug)]
pub(super) enum Ending {
    Replied(Reply),
    TimedOut,
    Exited(ExitStatus),
    /// The runtime asked for the next invocation without answering this one.
    NoAnswer,
}

pub(super) struct Environment {
    pub id: u32,
    proc: ChildProc,
    mailbox: Arc<Mailbox>,
    server: tokio::task::JoinHandle<()>,
    started: Instant,
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The variables Lambda sets in an execution environment ("Defined runtime environment
/// variables", https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
fn lambda_variables(spec: &FunctionSpec, id: u32, runtime_api: &str) -> Vec<(String, String)> {
    let date = chrono::Utc::now().format("%Y/%m/%d");
    let vars = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("{date}/[$LATEST]{:032x}", u128::from(id)),
        ),
        ("_HANDLER", super::decide::handler_of(&spec.command)),
        ("LAMBDA_TASK_ROOT", spec.working_dir.display().to_string()),
        ("AWS_REGION", super::REGION.to_string()),
        ("AWS_DEFAULT_REGION", super::REGION.to_string()),
        ("TZ", ":UTC".to_string()),
        ("AWS_ACCESS_KEY_ID", "AKIAESMCHAOSEXAMPLE".to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "esm-chaos-not-a-secret".to_string(),
        ),
        ("AWS_SESSION_TOKEN", "esm-chaos-not-a-token".to_string()),
    ];
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Environment {
    /// Starts the command with its own Runtime API; it is not ready until it asks for work.
    pub async fn spawn(
        spec: &FunctionSpec,
        id: u32,
        log_path: &Path,
    ) -> Result<Arc<Environment>, RuntimeError> {
        let listener = http::bind_loopback().await.map_err(RuntimeError::Bind)?;
        let runtime_api = listener
            .local_addr()
            .map_err(RuntimeError::Bind)?
            .to_string();
        let mailbox = Arc::new(Mailbox {
            phase: Mutex::new(Phase::Init),
            changed: Notify::new(),
        });
        let server = {
            let mailbox = mailbox.clone();
            http::serve(listener, move |request| {
                let mailbox = mailbox.clone();
                async move { handle(&mailbox, request).await }
            })
        };
        let mut command = Command::new("sh");
        command
            .args(["-c", &spec.command])
            .current_dir(&spec.working_dir)
            .envs(lambda_variables(spec, id, &runtime_api));
        let name = format!("function {} environment {id}", spec.name);
        let proc = procs::spawn(&name, command, log_path, None).map_err(|e| {
            server.abort();
            RuntimeError::Spawn(spec.command.clone(), e)
        })?;
        Ok(Arc::new(Environment {
            id,
            proc,
            mailbox,
            server,
            started: Instant::now(),
        }))
    }

    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.proc.try_status()
    }

    /// Milliseconds since the process started.
    pub fn age_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// SIGKILL to its process group; returns the exit status once reaped.
    pub async fn kill(&self) -> Option<ExitStatus> {
        self.server.abort();
        self.proc.kill().await
    }

    /// Sends SIGKILL without waiting ("the function crashes" kills all at once).
    pub fn signal_kill(&self) {
        self.proc.signal(nix::sys::signal::Signal::SIGKILL);
    }

    /// Waits until the runtime waits in `invocation/next`, or fails at `deadline`.
    pub async fn ready(&self, deadline: Instant) -> Result<(), NotReady> {
        loop {
            let notified = self.mailbox.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match &*self.mailbox.phase() {
                Phase::Waiting(_) => return Ok(()),
                Phase::InitFailed(body) => return Err(NotReady::InitError(body.clone())),
                _ => {}
            }
            if let Some(status) = self.exit_status() {
                return Err(NotReady::Exited(status));
            }
            if Instant::now() >= deadline {
                return Err(NotReady::Silent);
            }
            let poll = Instant::now() + Duration::from_millis(EXIT_POLL_MS);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(poll.min(deadline).into()) => {}
            }
        }
    }

    /// Hands `work` to the waiting runtime (call after [`Environment::ready`]) and waits for
    /// its answer, its exit, or `timeout`.
    pub async fn run(&self, work: Work, timeout: Duration) -> Ending {
        let deadline = Instant::now() + timeout;
        let (reply, mut answer) = oneshot::channel();
        {
            let mut phase = self.mailbox.phase();
            let busy = Phase::Busy {
                request_id: work.request_id.clone(),
                reply,
            };
            let to_runtime = match std::mem::replace(&mut *phase, busy) {
                Phase::Waiting(to_runtime) => to_runtime,
                other => {
                    *phase = other;
                    return Ending::NoAnswer;
                }
            };
            if to_runtime.send(work).is_err() {
                // The `next` request is gone: the process died while waiting.
                *phase = Phase::Answered;
            }
        }
        loop {
            let poll = Instant::now() + Duration::from_millis(EXIT_POLL_MS);
            tokio::select! {
                replied = &mut answer => {
                    return match replied {
                        Ok(reply) => Ending::Replied(reply),
                        Err(_) => self.exit_status().map_or(Ending::NoAnswer, Ending::Exited),
                    };
                }
                _ = tokio::time::sleep_until(poll.min(deadline).into()) => {
                    if let Some(status) = self.exit_status() {
                        return Ending::Exited(status);
                    }
                    if Instant::now() >= deadline {
                        return Ending::TimedOut;
                    }
                }
            }
        }
    }

    /// The last lines it printed, once its output has reached the log.
    pub async fn output_tail(&self) -> String {
        self.proc.output_flushed(Duration::from_secs(2)).await;
        let text = std::fs::read_to_string(self.proc.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(OUTPUT_TAIL_LINES);
        lines[from..].join("\n")
    }
}

/// One Runtime API request from the environment's runtime.
async fn handle(mailbox: &Mailbox, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_string();
    let Some(route) = api::route(request.method().as_str(), &path) else {
        return not_found(&path);
    };
    match route {
        Route::Next => next(mailbox).await,
        Route::Response { request_id } => {
            let reply = match http::read_body(request.into_body(), PAYLOAD_BYTES_MAX).await {
                Ok(body) => Reply::Response(body),
                Err(_) => Reply::TooLarge,
            };
            deliver(mailbox, request_id, reply)
        }
        Route::Error { request_id } => {
            let body = http::read_body(request.into_body(), ERROR_BYTES_MAX)
                .await
                .unwrap_or_else(|why| Bytes::from(why.into_bytes()));
            deliver(mailbox, request_id, Reply::Error(body))
        }
        Route::InitError => {
            let header_type = error_type(&request);
            let body = http::read_body(request.into_body(), ERROR_BYTES_MAX)
                .await
                .unwrap_or_default();
            let why = api::init_error_text(header_type.as_deref(), &body);
            mailbox.set(Phase::InitFailed(why));
            accepted()
        }
    }
}

fn error_type(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `GET invocation/next`: parks until an invocation is handed over.
async fn next(mailbox: &Mailbox) -> Response<Body> {
    let (to_runtime, work) = oneshot::channel();
    mailbox.set(Phase::Waiting(to_runtime));
    let Ok(work) = work.await else {
        return http::answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &[],
            r#"{"errorMessage":"the environment is shutting down","errorType":"Runtime.Shutdown"}"#,
        );
    };
    let deadline = work.deadline_epoch_ms.to_string();
    http::answer(
        StatusCode::OK,
        &[
            ("Lambda-Runtime-Aws-Request-Id", work.request_id.as_str()),
            ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                work.function_arn.as_str(),
            ),
            ("Lambda-Runtime-Trace-Id", work.trace_id.as_str()),
        ],
        work.body,
    )
}

/// `POST invocation/{id}/response|error`: the answer of the invocation in progress.
fn deliver(mailbox: &Mailbox, request_id: &str, reply: Reply) -> Response<Body> {
    let too_large = matches!(reply, Reply::TooLarge);
    let mut phase = mailbox.phase();
    let matches = matches!(&*phase, Phase::Busy { request_id: busy, .. } if busy == request_id);
    if !matches {
        return http::answer(
            StatusCode::BAD_REQUEST,
            &[],
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        );
    }
    if let Phase::Busy {
        reply: to_invoker, ..
    } = std::mem::replace(&mut *phase, Phase::Answered)
    {
        let _ = to_invoker.send(reply);
    }
    drop(phase);
    mailbox.changed.notify_waiters();
    if too_large {
        return http::answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &[],
            r#"{"errorMessage":"Payload Too Large","errorType":"RequestEntityTooLarge"}"#,
        );
    }
    accepted()
}

fn accepted() -> Response<Body> {
    http::answer(StatusCode::ACCEPTED, &[], r#"{"status":"OK"}"#)
}

fn not_found(path: &str) -> Response<Body> {
    let body = serde_json::json!({"errorMessage": format!("no Runtime API resource {path}"), "errorType": "NotFound"});
    http::answer(StatusCode::NOT_FOUND, &[], body.to_string())
}
