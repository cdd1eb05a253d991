//! Whole-server limits of the gRPC listener (`[server.limits]`): connections held at once, HTTP/2
//! streams and calls per connection, keepalives, connection age and header size, so no client
//! (or crowd of clients) exhausts the node's memory, tasks or sockets.
//!
//! tonic applies every limit but the number of connections; that one is applied here, on the
//! listener: while `max_connections` are open the node stops accepting, so new connections wait
//! in the kernel's backlog (and time out there) instead of taking memory in the node.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use futures_util::Stream;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::PollSemaphore;
use tonic::transport::{
    Server,
    server::{Connected, TcpIncoming},
};

use crate::config::ServerLimits;

/// The limits that would make the server refuse every call are refused at start.
pub fn check(limits: &ServerLimits) -> anyhow::Result<()> {
    for (name, value) in [
        ("max_connections", limits.max_connections),
        ("max_concurrent_streams", limits.max_concurrent_streams),
        (
            "concurrency_per_connection",
            limits.concurrency_per_connection,
        ),
        ("max_header_list_bytes", limits.max_header_list_bytes),
    ] {
        anyhow::ensure!(value > 0, "server.limits.{name} must be at least 1");
    }
    Ok(())
}

/// The builder with tonic's per-connection limits applied; `grace` is how long a connection past
/// its age has to finish its calls.
pub fn apply(builder: Server, limits: &ServerLimits, grace: Duration) -> Server {
    let ms = Duration::from_millis;
    let builder = builder
        .max_concurrent_streams(limits.max_concurrent_streams)
        .concurrency_limit_per_connection(limits.concurrency_per_connection as usize)
        .http2_keepalive_interval(Some(ms(limits.http2_keepalive_interval_ms)))
        .http2_keepalive_timeout(Some(ms(limits.http2_keepalive_timeout_ms)))
        .http2_max_header_list_size(limits.max_header_list_bytes);
    if limits.max_connection_age_ms == 0 {
        builder
    } else {
        builder
            .max_connection_age(ms(limits.max_connection_age_ms))
            .max_connection_age_grace(grace)
    }
}

/// The listener's connections, at most `max_connections` open at once, with TCP keepalive.
pub fn incoming(listener: TcpListener, limits: &ServerLimits) -> LimitedIncoming {
    let keepalive = Duration::from_millis(limits.tcp_keepalive_ms);
    LimitedIncoming {
        inner: TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive((!keepalive.is_zero()).then_some(keepalive)),
        slots: PollSemaphore::new(Arc::new(Semaphore::new(limits.max_connections as usize))),
        slot: None,
    }
}

/// Accepts a connection only with a free slot; the slot goes with the connection and is freed
/// when it closes.
pub struct LimitedIncoming {
    inner: TcpIncoming,
    slots: PollSemaphore,
    /// A slot taken while the next connection is awaited.
    slot: Option<OwnedSemaphorePermit>,
}

impl Stream for LimitedIncoming {
    type Item = io::Result<Limited<tokio::net::TcpStream>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.slot.is_none() {
            // Not accepting until a connection closes: the listener is not polled meanwhile.
            match ready!(this.slots.poll_acquire(cx)) {
                Some(slot) => this.slot = Some(slot),
                None => return Poll::Ready(None),
            }
        }
        match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
            Some(Ok(io)) => Poll::Ready(Some(Ok(Limited {
                io,
                _slot: this.slot.take(),
            }))),
            // A failed accept (a peer gone before it was accepted) keeps the slot for the next.
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => Poll::Ready(None),
        }
    }
}

/// A connection holding its slot.
pub struct Limited<T> {
    io: T,
    _slot: Option<OwnedSemaphorePermit>,
}

impl<T: Connected> Connected for Limited<T> {
    type ConnectInfo = T::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Limited<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Limited<T> {
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
