//! A TCP relay for fault injection and observation: forwards to a target that can be set late
//! (so two Meridians can name each other), counts bytes sent through, or swallows connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct State {
    /// Where connections go; None = hold them open without forwarding.
    target: Mutex<Option<SocketAddr>>,
    /// Hold new connections open and forward nothing (a black hole that accepts).
    hang: AtomicBool,
    /// Connections accepted.
    connections: AtomicU64,
    /// Bytes relayed from clients towards the target.
    bytes_up: AtomicU64,
}

/// A running relay on 127.0.0.1:0; dropping it stops accepting.
pub struct Relay {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Starts a relay; set its target before traffic arrives.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Self { addr, state, task }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where new connections are relayed to.
    pub fn set_target(&self, target: SocketAddr) {
        *self.state.target.lock().unwrap() = Some(target);
    }

    /// Swallow new connections (accept, read, never answer) instead of relaying.
    pub fn set_hang(&self, hang: bool) {
        self.state.hang.store(hang, Relaxed);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Relaxed)
    }

    /// Bytes relayed from clients to the target so far.
    pub fn bytes_up(&self) -> u64 {
        self.state.bytes_up.load(Relaxed)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                state.connections.fetch_add(1, Relaxed);
                conns.spawn(relay(client, state.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn relay(mut client: TcpStream, state: Arc<State>) {
    let target = *state.target.lock().unwrap();
    let Some(target) = target.filter(|_| !state.hang.load(Relaxed)) else {
        // Read and discard until the peer gives up; never answer.
        let _ = tokio::io::copy(&mut client, &mut tokio::io::sink()).await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = upstream.split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            use tokio::io::AsyncReadExt;
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    state.bytes_up.fetch_add(n as u64, Relaxed);
                    if uw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = uw.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut ur, &mut cw).await;
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}
