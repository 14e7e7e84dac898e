//! A TCP relay a test controls, between a Grace node and its database: it passes bytes both
//! ways until frozen (connections stay open, nothing gets through: a partition that drops
//! packets) or closed (every connection cut and new ones refused).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const OPEN: u8 = 0;
const FROZEN: u8 = 1;
const CLOSED: u8 = 2;

/// A running relay to one address on 127.0.0.1; stops relaying when dropped.
pub struct Relay {
    pub addr: SocketAddr,
    state: Arc<AtomicU8>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(to: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(AtomicU8::new(OPEN));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.load(Ordering::Acquire) == CLOSED {
                    continue; // dropped: refused
                }
                let Ok(server) = TcpStream::connect(to).await else {
                    continue;
                };
                tokio::spawn(pipe(client, server, shared.clone()));
            }
        });
        Relay { addr, state, task }
    }

    /// Nothing gets through from now on; connections stay open.
    pub fn freeze(&self) {
        self.state.store(FROZEN, Ordering::Release);
    }

    /// Every connection is cut, and new ones are refused.
    pub fn close(&self) {
        self.state.store(CLOSED, Ordering::Release);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.close();
        self.task.abort();
    }
}

/// Copies both ways while open; holds the bytes while frozen; ends when closed.
async fn pipe(client: TcpStream, server: TcpStream, state: Arc<AtomicU8>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = tokio::spawn(copy(client_read, server_write, state.clone()));
    let down = tokio::spawn(copy(server_read, client_write, state));
    let _ = tokio::join!(up, down);
}

async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<AtomicU8>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_millis(50), from.read(&mut buffer)).await;
        match state.load(Ordering::Acquire) {
            CLOSED => return,
            FROZEN => {
                // Whatever was read is held back, as a partition would drop it.
                continue;
            }
            _ => {}
        }
        match read {
            Err(_) => continue, // nothing within 50 ms: look at the state again
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => {
                if to.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
