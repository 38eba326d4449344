//! Whether a Docker engine answers, and what to tell the user when none does. Compiled in every
//! build (only the container backend itself needs the `docker` feature), so the default
//! `cargo test` runs its test and no build with the container libraries is needed for it.

use super::BrokerError;
use std::time::Duration;

/// How long `docker info` may take to answer.
const DOCKER_INFO_TIMEOUT_MS: u64 = 5_000;
const NO_ENGINE: &str = "no Docker engine answers: start Docker or use --broker local";

/// Fails fast with [`BrokerError::DockerUnavailable`] unless `docker info` answers within 5 s.
/// `docker_host` overrides `DOCKER_HOST` (tests point it at nothing).
#[cfg_attr(not(feature = "docker"), allow(dead_code))]
pub(super) async fn docker_answers(docker_host: Option<&str>) -> Result<(), BrokerError> {
    let mut cmd = tokio::process::Command::new("docker");
    cmd.args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(host) = docker_host {
        cmd.env("DOCKER_HOST", host);
    }
    let unavailable = |why: String| BrokerError::DockerUnavailable {
        detail: format!("{NO_ENGINE} ({why})"),
    };
    let output = tokio::time::timeout(Duration::from_millis(DOCKER_INFO_TIMEOUT_MS), cmd.output())
        .await
        .map_err(|_| {
            unavailable(format!(
                "docker info gave no answer in {DOCKER_INFO_TIMEOUT_MS} ms"
            ))
        })?
        .map_err(|e| unavailable(format!("cannot run docker: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(unavailable(
        stderr
            .lines()
            .last()
            .unwrap_or("docker info failed")
            .trim()
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_engine_is_reported_with_what_to_do() {
        let err = docker_answers(Some("unix:///nonexistent/esm-chaos-docker.sock"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, BrokerError::DockerUnavailable { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("start Docker or use --broker local"),
            "{text}"
        );
    }
}
