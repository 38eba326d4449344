//! Fetching Apache Kafka from Maven Central into a cache folder, once per version, and finding a
//! Java that can run it.

use super::BrokerError;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The log4j2 release put on the broker classpath (Kafka 4 logs through slf4j 1.7).
pub const LOG4J_VERSION: &str = "2.25.3";
/// Oldest Java major version Kafka 4 runs on.
pub const MIN_JAVA_MAJOR: u32 = 17;
/// A first download of Kafka and its dependencies may take this long at most.
pub const MAVEN_TIMEOUT_MS: u64 = 15 * 60 * 1000;
const MARKER: &str = ".complete";

/// The Java the broker runs on.
#[derive(Debug, Clone)]
pub struct JavaInfo {
    pub path: PathBuf,
    /// As `java -version` prints it, e.g. "17.0.15".
    pub version: String,
    pub major: u32,
}

/// Finds `$JAVA_HOME/bin/java` (if set) or `java` on the PATH and checks it is 17 or newer.
pub fn check_java() -> Result<JavaInfo, BrokerError> {
    let path = std::env::var_os("JAVA_HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join("bin").join("java"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("java"));
    let output = match Command::new(&path).arg("-version").output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BrokerError::JavaMissing),
        Err(e) => return Err(BrokerError::io(format!("cannot run {}", path.display()))(e)),
    };
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    let version = parse_java_version(&text).ok_or(BrokerError::JavaMissing)?;
    let major = java_major(&version);
    if major < MIN_JAVA_MAJOR {
        return Err(BrokerError::JavaTooOld { found: version });
    }
    Ok(JavaInfo {
        path,
        version,
        major,
    })
}

fn parse_java_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains(" version \""))?;
    let start = line.find('"')? + 1;
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_string())
}

/// "1.8.0_392" is 8, "17.0.15" is 17, "21" is 21.
fn java_major(version: &str) -> u32 {
    let mut parts = version.split(['.', '-', '+', '_']);
    let first: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if first == 1 {
        parts.next().and_then(|p| p.parse().ok()).unwrap_or(0)
    } else {
        first
    }
}

/// The folder a version is kept in: `cache_dir/kafka-<version>`.
pub(crate) fn dist_dir(cache_dir: &Path, version: &str) -> PathBuf {
    cache_dir.join(format!("kafka-{version}"))
}

/// Makes sure `cache_dir/kafka-<version>/libs` holds the broker classpath and returns it. Once the
/// `.complete` marker exists this touches no network and runs no Maven. Concurrent callers (other
/// test binaries) wait on a lock file instead of downloading twice.
pub fn provision(cache_dir: &Path, version: &str) -> Result<PathBuf, BrokerError> {
    if version.is_empty()
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(BrokerError::InvalidOption {
            field: "kafka version",
            detail: format!("{version:?} is not a release number like 4.3.1"),
        });
    }
    let dist = dist_dir(cache_dir, version);
    let libs = dist.join("libs");
    if dist.join(MARKER).is_file() {
        return Ok(libs);
    }
    std::fs::create_dir_all(&dist).map_err(BrokerError::io(format!(
        "cannot create the cache folder {}",
        dist.display()
    )))?;
    let _lock = lock(&cache_dir.join(format!("kafka-{version}.lock")))?;
    if dist.join(MARKER).is_file() {
        return Ok(libs); // another process finished while this one waited
    }
    check_maven()?;
    if libs.exists() {
        std::fs::remove_dir_all(&libs)
            .map_err(BrokerError::io(format!("cannot clear {}", libs.display())))?;
    }
    let pom = dist.join("pom.xml");
    std::fs::write(&pom, pom_xml(version))
        .map_err(BrokerError::io(format!("cannot write {}", pom.display())))?;
    tracing::info!(version, dir = %dist.display(), "downloading Apache Kafka with Maven (once)");
    run_maven(&dist, &pom, &libs, version)?;
    let jar = libs.join(format!("kafka_2.13-{version}.jar"));
    if !jar.is_file() {
        return Err(BrokerError::MavenFailed {
            version: version.into(),
            dir: dist,
            tail: format!("Maven finished but {} is missing", jar.display()),
        });
    }
    std::fs::write(dist.join(MARKER), version).map_err(BrokerError::io(format!(
        "cannot write the marker in {}",
        dist.display()
    )))?;
    Ok(libs)
}

/// An exclusive `flock` held until the returned file is dropped.
fn lock(path: &Path) -> Result<std::fs::File, BrokerError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(BrokerError::io(format!(
            "cannot open the lock file {}",
            path.display()
        )))?;
    // SAFETY: flock on a valid open descriptor; released when the file is closed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(BrokerError::io(format!("cannot lock {}", path.display()))(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(file)
}

fn check_maven() -> Result<(), BrokerError> {
    match Command::new("mvn")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(BrokerError::MavenMissing),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BrokerError::MavenMissing),
        Err(e) => Err(BrokerError::io("cannot run mvn")(e)),
    }
}

fn run_maven(dist: &Path, pom: &Path, libs: &Path, version: &str) -> Result<(), BrokerError> {
    let log_path = dist.join("mvn.log");
    let log = std::fs::File::create(&log_path).map_err(BrokerError::io(format!(
        "cannot create {}",
        log_path.display()
    )))?;
    let mut child = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(pom)
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", libs.display()))
        .arg("-DincludeScope=runtime")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BrokerError::MavenMissing,
            _ => BrokerError::io("cannot run mvn")(e),
        })?;
    let deadline = Instant::now() + Duration::from_millis(MAVEN_TIMEOUT_MS);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    match status {
        Some(s) if s.success() => Ok(()),
        other => Err(BrokerError::MavenFailed {
            version: version.into(),
            dir: dist.to_path_buf(),
            tail: match other {
                None => format!("no result after {MAVEN_TIMEOUT_MS} ms"),
                Some(s) => format!("{s}; {}", super::log_tail(&log_path, 20)),
            },
        }),
    }
}

fn pom_xml(version: &str) -> String {
    let dep = |group: &str, artifact: &str, v: &str| {
        format!(
            "    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{v}</version></dependency>\n"
        )
    };
    let mut deps = dep("org.apache.kafka", "kafka_2.13", version);
    for artifact in ["log4j-api", "log4j-core", "log4j-slf4j-impl"] {
        deps += &dep("org.apache.logging.log4j", artifact, LOG4J_VERSION);
    }
    format!(
        "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n  \
         <groupId>esmchaos</groupId><artifactId>kafka-dist</artifactId><version>1</version><packaging>pom</packaging>\n  \
         <dependencies>\n{deps}  </dependencies>\n</project>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_versions() {
        let text = "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment";
        assert_eq!(parse_java_version(text).unwrap(), "17.0.15");
        assert_eq!(java_major("17.0.15"), 17);
        assert_eq!(java_major("1.8.0_392"), 8);
        assert_eq!(java_major("21"), 21);
        assert_eq!(java_major("25-ea"), 25);
        assert!(parse_java_version("bash: java: not found").is_none());
    }

    #[test]
    fn a_completed_cache_is_used_without_maven() {
        let cache = tempfile::tempdir().unwrap();
        let dist = dist_dir(cache.path(), "9.9.9");
        std::fs::create_dir_all(dist.join("libs")).unwrap();
        std::fs::write(dist.join(MARKER), "9.9.9").unwrap();
        // Would fail (no such release) if Maven ran.
        assert_eq!(provision(cache.path(), "9.9.9").unwrap(), dist.join("libs"));
    }

    #[test]
    fn rejects_a_version_that_is_not_a_release_number() {
        let cache = tempfile::tempdir().unwrap();
        let err = provision(cache.path(), "../x").unwrap_err().to_string();
        assert!(err.contains("kafka version"), "{err}");
    }

    #[test]
    fn the_pom_lists_kafka_and_log4j() {
        let pom = pom_xml("4.3.1");
        assert!(pom.contains("<artifactId>kafka_2.13</artifactId><version>4.3.1</version>"));
        assert!(pom.contains("log4j-slf4j-impl"));
    }

    #[test]
    fn finds_java_17_here() {
        let java = check_java().unwrap();
        assert!(java.major >= MIN_JAVA_MAJOR, "{java:?}");
    }
}
