//! The listener every connection is accepted through, and the deadlines each connection keeps.
//!
//! - Writes: a client that stops reading stops the server's writes to it (the kernel's buffers
//!   fill); without a deadline an SSE stream or a socket would then wait on it forever, holding
//!   its slot. A write that cannot move a byte for `stall` fails, and the connection is dropped
//!   like any broken one.
//! - Reads: a request head must arrive within its deadline, and an idle connection is closed after
//!   the keep-alive deadline (see `conn`); connections that never authenticate are capped.
//! - TCP_NODELAY on each socket: frames are small and latency matters more than packet count.

mod conn;
mod service;

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::serve::Listener;
pub use conn::{Conn, Deadlines, Strangers};
pub use service::Tracked;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::Sleep,
};

pub struct Guarded {
    inner: TcpListener,
    deadlines: Deadlines,
    strangers: std::sync::Arc<Strangers>,
}

impl Guarded {
    pub fn new(inner: TcpListener, deadlines: Deadlines) -> Guarded {
        Guarded { inner, deadlines, strangers: Strangers::new(deadlines.unauthenticated) }
    }
}

impl Listener for Guarded {
    type Io = Deadline<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = Listener::accept(&mut self.inner).await;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let conn = self.strangers.admit(self.deadlines);
        let io = Deadline { io: tcp, stall: self.deadlines.stall, stalled: None, conn, reading: None };
        (io, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A stream whose writes fail once they have made no progress for `stall`, and whose reads fail
/// once the connection's read deadline has passed.
pub struct Deadline<T> {
    io: T,
    stall: Duration,
    /// Set while a write is pending: when it started waiting, as a timer.
    stalled: Option<Pin<Box<Sleep>>>,
    conn: std::sync::Arc<Conn>,
    /// Set while a read is pending with a deadline: the timer, and the deadline it is set to.
    reading: Option<(Pin<Box<Sleep>>, tokio::time::Instant)>,
}

impl<T> Deadline<T> {
    /// The connection's standing, for the requests it carries.
    pub fn conn(&self) -> &std::sync::Arc<Conn> {
        &self.conn
    }

    /// Passes a ready poll through (and clears the timer); turns a pending one into an error once
    /// the timer has run out.
    fn guard<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let stall = self.stall;
                let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

/// Why a stranger's connection was closed to make room.
fn evicted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "too many unauthenticated connections")
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadline<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.conn.is_evicted() {
            return Poll::Ready(Err(evicted()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                self.reading = None;
                if buf.filled().len() > before {
                    self.conn.bytes_arrived();
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                // Registered before the deadline is read, so a change after it wakes this task.
                self.conn.register_reader(cx.waker());
                if self.conn.is_evicted() {
                    return Poll::Ready(Err(evicted()));
                }
                let Some(by) = self.conn.read_deadline() else {
                    self.reading = None;
                    return Poll::Pending;
                };
                let timer = match &mut self.reading {
                    Some((timer, set)) if *set == by => timer,
                    slot => &mut slot.insert((Box::pin(tokio::time::sleep_until(by)), by)).0,
                };
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request in time"))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadline<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_shutdown(cx);
        self.guard(cx, poll)
    }
}
