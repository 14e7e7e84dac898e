//! A connection must say something within `server.header_read_timeout_ms`.
//!
//! hyper's `header_read_timeout` starts once the first byte of a request head is read, and the
//! auto builder's step that tells HTTP/1 from HTTP/2 reads the first bytes with no deadline at
//! all (hyperium/hyper#3962): a client that connects (or finishes its TLS handshake) and sends
//! nothing would hold a connection slot forever, and `server.connections_max` such clients
//! would shut everyone else out. [`FirstRead`] fails the connection's reads with `TimedOut`
//! when no byte has arrived by the deadline; from the first byte on, it only passes reads
//! through and hyper's own timeouts take over.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `I`, whose reads fail once `deadline` has passed without a byte.
pub struct FirstRead<I> {
    io: I,
    /// None once a byte has arrived.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<I> FirstRead<I> {
    pub fn new(io: I, within: Duration) -> Self {
        let deadline = Some(Box::pin(tokio::time::sleep(within)));
        Self { io, deadline }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FirstRead<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.deadline = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "nothing was sent within server.header_read_timeout_ms",
                ))),
                _ => Poll::Pending,
            },
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for FirstRead<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
