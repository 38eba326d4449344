//! A loopback TCP proxy that injects network faults between a client and one broker listener.
//!
//! `set_cut(true)` drops every live connection at once and holds new ones silent (accepted, no
//! bytes forwarded) until the cut ends, when they are closed: a client sees a dead network rather
//! than a refused port. `set_latency_ms` delays every chunk in either direction.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// Live connections one proxy carries at most; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long a connection to the target may take before the client is dropped.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
const CHUNK_BYTES: usize = 16 * 1024;

struct Shared {
    target: SocketAddr,
    cut: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    latency_ms: AtomicU64,
    connections_total: AtomicU64,
    slots: Arc<Semaphore>,
}

/// One proxy: listens on a loopback port and forwards to `target`.
pub struct TcpProxy {
    port: u16,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl TcpProxy {
    /// Binds a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Arc<TcpProxy>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Ok(Self::start_with_listener(listener, target))
    }

    /// Forwards connections accepted on an already bound `listener` to `target`.
    pub fn start_with_listener(listener: TcpListener, target: SocketAddr) -> Arc<TcpProxy> {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let shared = Arc::new(Shared {
            target,
            cut: watch::channel(false).0,
            stop: watch::channel(false).0,
            latency_ms: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        });
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone()));
        Arc::new(TcpProxy {
            port,
            shared,
            accept_task,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Cuts (or restores) the link: a cut drops live connections at once.
    pub fn set_cut(&self, cut: bool) {
        self.shared.cut.send_replace(cut);
    }

    pub fn is_cut(&self) -> bool {
        *self.shared.cut.borrow()
    }

    /// Delays each forwarded chunk, in either direction, by `ms` (0 = none).
    pub fn set_latency_ms(&self, ms: u64) {
        self.shared.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Connections accepted since start.
    pub fn connections_total(&self) -> u64 {
        self.shared.connections_total.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn connections_live(&self) -> usize {
        MAX_CONNECTIONS - self.shared.slots.available_permits()
    }

    /// Stops accepting and closes every connection.
    pub fn stop(&self) {
        self.shared.stop.send_replace(true);
        self.accept_task.abort();
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let Ok((client, _)) = accepted else {
            // EMFILE and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = shared.slots.clone().try_acquire_owned() else {
            tracing::warn!(port = ?listener.local_addr(), "proxy full: closing a new connection");
            continue;
        };
        shared.connections_total.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        tokio::spawn(async move {
            serve(client, &shared).await;
            drop(permit);
        });
    }
}

async fn serve(client: TcpStream, shared: &Shared) {
    let mut cut = shared.cut.subscribe();
    let mut stop = shared.stop.subscribe();
    if *cut.borrow_and_update() {
        // Held silent until the cut ends (or the proxy stops), then closed.
        tokio::select! {
            _ = cut.wait_for(|c| !*c) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        return;
    }
    let connect = tokio::time::timeout(
        Duration::from_millis(CONNECT_TIMEOUT_MS),
        TcpStream::connect(shared.target),
    );
    let upstream = tokio::select! {
        upstream = connect => match upstream {
            Ok(Ok(upstream)) => upstream,
            _ => return,
        },
        _ = cut.wait_for(|c| *c) => return,
        _ = stop.wait_for(|s| *s) => return,
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut up_read, mut up_write) = upstream.into_split();
    let latency = &shared.latency_ms;
    tokio::select! {
        _ = pump(&mut client_read, &mut up_write, latency) => {}
        _ = pump(&mut up_read, &mut client_write, latency) => {}
        _ = cut.wait_for(|c| *c) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// Chunks read but not yet due in one direction: bounds the proxy's memory per connection.
const CHUNKS_IN_FLIGHT_MAX: usize = 256;

/// Copies one direction until EOF or error. Each chunk is written `latency` after it was read,
/// and reading goes on meanwhile: a delay of the link, not a cap on its throughput.
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    latency_ms: &AtomicU64,
) {
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT_MAX);
    let read = async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let due = tokio::time::Instant::now()
                + Duration::from_millis(latency_ms.load(Ordering::Relaxed));
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let write = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    // The writer drains what was read before EOF, then the direction ends.
    let _ = tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        (addr, task)
    }

    async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(msg).await?;
        let mut got = vec![0u8; msg.len()];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut got));
        match read.await {
            Ok(Ok(_)) => Ok(got),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    fn connect_addr(proxy: &TcpProxy) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], proxy.port()))
    }

    #[tokio::test]
    async fn forwards_both_ways_and_counts() {
        let (addr, echo) = echo_server().await;
        let proxy = TcpProxy::start(addr).await.unwrap();
        let mut s = TcpStream::connect(connect_addr(&proxy)).await.unwrap();
        assert_eq!(round_trip(&mut s, b"hello").await.unwrap(), b"hello");
        assert_eq!(proxy.connections_total(), 1);
        assert_eq!(proxy.connections_live(), 1);
        echo.abort();
    }

    #[tokio::test]
    async fn cut_drops_live_and_holds_new_connections_silent() {
        let (addr, echo) = echo_server().await;
        let proxy = TcpProxy::start(addr).await.unwrap();
        let mut live = TcpStream::connect(connect_addr(&proxy)).await.unwrap();
        assert_eq!(round_trip(&mut live, b"a").await.unwrap(), b"a");
        proxy.set_cut(true);
        assert!(
            round_trip(&mut live, b"b").await.is_err(),
            "live link survived a cut"
        );
        let mut held = TcpStream::connect(connect_addr(&proxy)).await.unwrap();
        let err = round_trip(&mut held, b"c").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        proxy.set_cut(false);
        // The held connection is closed once the cut ends: read sees EOF.
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(2), held.read(&mut buf))
            .await
            .expect("held connection not closed after the cut")
            .unwrap_or(0);
        assert_eq!(n, 0);
        let mut fresh = TcpStream::connect(connect_addr(&proxy)).await.unwrap();
        assert_eq!(round_trip(&mut fresh, b"d").await.unwrap(), b"d");
        echo.abort();
    }

    #[tokio::test]
    async fn latency_delays_each_direction() {
        let (addr, echo) = echo_server().await;
        let proxy = TcpProxy::start(addr).await.unwrap();
        proxy.set_latency_ms(150);
        let mut s = TcpStream::connect(connect_addr(&proxy)).await.unwrap();
        let started = Instant::now();
        assert_eq!(round_trip(&mut s, b"x").await.unwrap(), b"x");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        echo.abort();
    }

    #[tokio::test]
    async fn stop_closes_connections_and_the_port() {
        let (addr, echo) = echo_server().await;
        let proxy = TcpProxy::start(addr).await.unwrap();
        let proxy_addr = connect_addr(&proxy);
        let mut s = TcpStream::connect(proxy_addr).await.unwrap();
        assert_eq!(round_trip(&mut s, b"a").await.unwrap(), b"a");
        drop(proxy);
        assert!(round_trip(&mut s, b"b").await.is_err());
        crate::wait::until("proxy port closed", Duration::from_secs(2), || async {
            match TcpStream::connect(proxy_addr).await {
                Err(_) => Ok(()),
                Ok(_) => Err("still accepting".to_string()),
            }
        })
        .await
        .unwrap();
        echo.abort();
    }
}
