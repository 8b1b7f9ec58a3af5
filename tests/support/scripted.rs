//! An HTTP/1 origin that answers with exact bytes: framings, defects and connection behaviour
//! that a well-behaved server library will not produce.
//!
//! Requests for paths under `/s/` get the script's [`Reply`]; anything else (health probes) a
//! plain `200 ok`. The origin records, per scripted answer, which accepted connection it went
//! out on, so a test can tell a reused connection from a new one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to send for one scripted request.
pub struct Reply {
    /// Written in order, each flushed and followed by a short pause, so the proxy sees the
    /// response split across reads.
    pub parts: Vec<Vec<u8>>,
    /// Close the connection after the last part.
    pub close: bool,
}

impl Reply {
    /// One write, connection kept open.
    pub fn bytes(raw: impl Into<Vec<u8>>) -> Self {
        Reply {
            parts: vec![raw.into()],
            close: false,
        }
    }

    /// Several writes, connection kept open.
    pub fn split(parts: &[&[u8]]) -> Self {
        Reply {
            parts: parts.iter().map(|p| p.to_vec()).collect(),
            close: false,
        }
    }

    /// Closes the connection after the reply.
    pub fn then_close(mut self) -> Self {
        self.close = true;
        self
    }
}

/// The request line and headers as the origin received them.
#[derive(Clone, Debug)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Request target.
    pub path: String,
    /// The whole head, for header checks.
    pub head: String,
    /// Which accepted connection (1-based) it came on.
    pub connection: u64,
}

type Script = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// A running scripted origin; stops when dropped.
pub struct ScriptedOrigin {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedOrigin {
    /// Starts on an ephemeral loopback port.
    pub async fn start(script: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(script);
        let accepted = Arc::new(AtomicU64::new(0));
        let log = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let connection = accepted.fetch_add(1, Relaxed) + 1;
                tokio::spawn(serve(stream, connection, script.clone(), log.clone()));
            }
        });
        ScriptedOrigin {
            addr,
            received,
            task,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The scripted requests received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    connection: u64,
    script: Script,
    log: Arc<Mutex<Vec<Received>>>,
) {
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut words = head.split_whitespace();
        let (method, path) = (
            words.next().unwrap_or_default().to_string(),
            words.next().unwrap_or_default().to_string(),
        );
        if !path.starts_with("/s/") {
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(ok).await.is_err() {
                return;
            }
            continue;
        }
        let request = Received {
            method,
            path,
            head,
            connection,
        };
        let reply = script(&request);
        log.lock().unwrap().push(request);
        for (i, part) in reply.parts.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if stream.write_all(part).await.is_err() || stream.flush().await.is_err() {
                return;
            }
        }
        if reply.close {
            return;
        }
    }
}
