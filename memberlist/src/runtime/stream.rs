//! The stream tasks: serving one inbound stream, and running one stream request of the
//! machine. Each is its own task so that a slow peer never holds up the driver.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::{Instant, timeout_at};
use tracing::debug;

use crate::machine::{StreamError, StreamKind, StreamOutcome, StreamPhase, StreamRequest};
use crate::metrics::{Counter, DropReason, Histogram};
use crate::transport::Transport;
use crate::wire::{Limit, MessageType, Pipeline, StreamDecoder, StreamRole, WireError};

use super::stats::Counters;

/// Bytes read from a stream at a time.
const READ_CHUNK: usize = 16 * 1024;

/// What an inbound stream task asks the driver: the reply to write, if any, to the message
/// that arrived (opened: label checked, decrypted, decompressed), or to a stream that could
/// not be decoded (Go sends an `errResp` for envelope failures).
pub(crate) struct InboundRequest {
    pub(crate) from: SocketAddr,
    pub(crate) msg: Result<Bytes, WireError>,
    pub(crate) reply: oneshot::Sender<Option<Bytes>>,
}

/// What stream tasks share.
pub(crate) struct StreamContext {
    pub(crate) pipeline: Pipeline,
    pub(crate) tcp_timeout: Duration,
    pub(crate) read_limit: usize,
    pub(crate) push_pulls: Arc<Semaphore>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) requests: mpsc::Sender<InboundRequest>,
}

/// The limit a failed read tripped, if any.
fn read_limit(e: &StreamError) -> Option<Limit> {
    match e {
        StreamError::TooLong { .. } => Some(Limit::StreamRead),
        StreamError::Wire { source, .. } => source.limit(),
        _ => None,
    }
}

/// Reads one framed message from `to` before `deadline`, opened (label, decryption,
/// decompression; the machine decodes it), and how many bytes it took on the stream.
/// `Ok(None)`: the peer closed the stream before sending anything.
async fn read_within<S: AsyncRead + Unpin>(
    stream: &mut S,
    to: SocketAddr,
    role: StreamRole,
    ctx: &StreamContext,
    deadline: Instant,
) -> Result<Option<(Bytes, usize)>, StreamError> {
    let read = async {
        let mut decoder = StreamDecoder::new(role);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut total = 0usize;
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| StreamError::Io {
                to,
                phase: StreamPhase::Read,
                source: Arc::new(e),
            })?;
            if n == 0 {
                return match total {
                    0 => Ok(None),
                    _ => Err(StreamError::Truncated { to }),
                };
            }
            total += n;
            if total > ctx.read_limit {
                let limit = ctx.read_limit;
                return Err(StreamError::TooLong { to, limit });
            }
            decoder.feed(&buf[..n]);
            let opened = decoder.poll_opened(&ctx.pipeline);
            if let Some(msg) = opened.map_err(|source| StreamError::Wire { to, source })? {
                return Ok(Some((msg, total)));
            }
        }
    };
    let phase = StreamPhase::Read;
    timeout_at(deadline, read)
        .await
        .unwrap_or(Err(StreamError::Timeout { to, phase }))
}

/// Writes `data` to `to` within `deadline`, then closes our side if `close`.
async fn write_within<S: AsyncWrite + Unpin>(
    stream: &mut S,
    to: SocketAddr,
    data: &[u8],
    deadline: Instant,
    counters: &Counters,
    close: bool,
) -> Result<(), StreamError> {
    let write = async {
        stream.write_all(data).await?;
        counters
            .metrics
            .increment(Counter::TcpSentBytes, data.len() as u64);
        stream.flush().await?;
        if close {
            stream.shutdown().await
        } else {
            Ok(())
        }
    };
    let phase = StreamPhase::Write;
    match timeout_at(deadline, write).await {
        Ok(result) => result.map_err(|e| StreamError::Io {
            to,
            phase,
            source: Arc::new(e),
        }),
        Err(_) => Err(StreamError::Timeout { to, phase }),
    }
}

/// Serves one accepted stream: reads its message under the TCP timeout, lets the driver
/// handle it, and writes the reply. Holds `_permit` (the inbound stream limit) throughout.
pub(crate) async fn serve_inbound<S>(
    mut stream: S,
    from: SocketAddr,
    ctx: Arc<StreamContext>,
    _permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + ctx.tcp_timeout;
    let read = read_within(&mut stream, from, StreamRole::Acceptor, &ctx, deadline);
    let (msg, push_pull) = match read.await {
        Ok(Some((msg, size))) => {
            // Go's cap on concurrent inbound push/pulls.
            let permit = if msg.first() == Some(&MessageType::PushPull.byte()) {
                match ctx.push_pulls.clone().try_acquire_owned() {
                    Ok(permit) => {
                        ctx.counters
                            .metrics
                            .record(Histogram::PushPullSizeRemote, size as f64);
                        Some((permit, ctx.counters.push_pull_started()))
                    }
                    Err(_) => {
                        let limit = Some(Limit::PushPulls);
                        ctx.counters
                            .inbound_stream_dropped(DropReason::Limit, limit);
                        debug!(%from, "too many push/pulls in progress; closing the stream");
                        return;
                    }
                }
            } else {
                None
            };
            (Ok(msg), permit)
        }
        Ok(None) => {
            debug!(%from, "stream closed before sending anything");
            return;
        }
        Err(StreamError::Wire { source: error, .. }) => {
            ctx.counters
                .inbound_stream_dropped(DropReason::from(&error), error.limit());
            debug!(%from, %error, "cannot decode an inbound stream");
            // Go closes a stream with the wrong label silently (no errResp, which would
            // also tell an unauthenticated peer our label).
            if matches!(error, WireError::Label(_)) {
                return;
            }
            (Err(error), None)
        }
        Err(StreamError::Timeout { .. }) => {
            // One deadline for the whole read, however the bytes trickle in.
            ctx.counters
                .inbound_stream_dropped(DropReason::Timeout, Some(Limit::StreamDeadline));
            debug!(%from, timeout = ?ctx.tcp_timeout, "inbound stream timed out");
            return;
        }
        Err(error) => {
            let reason = match error {
                StreamError::TooLong { .. } => DropReason::Limit,
                _ => DropReason::Decode,
            };
            ctx.counters
                .inbound_stream_dropped(reason, read_limit(&error));
            debug!(%from, %error, "dropping an inbound stream");
            return;
        }
    };
    let (reply, answer) = oneshot::channel();
    if ctx
        .requests
        .send(InboundRequest { from, msg, reply })
        .await
        .is_err()
    {
        return;
    }
    let Some(reply) = answer.await.ok().flatten() else {
        return;
    };
    if push_pull.is_some() {
        ctx.counters
            .metrics
            .record(Histogram::PushPullSizeLocal, reply.len() as f64);
    }
    // Go re-arms the deadline before sending its state.
    let deadline = Instant::now() + ctx.tcp_timeout;
    match write_within(&mut stream, from, &reply, deadline, &ctx.counters, true).await {
        Ok(()) => {}
        Err(StreamError::Timeout { .. }) => {
            // A peer that does not read its answer is cut off at the deadline too.
            ctx.counters
                .inbound_stream_dropped(DropReason::Timeout, Some(Limit::StreamDeadline));
            debug!(%from, timeout = ?ctx.tcp_timeout, "answering an inbound stream timed out");
        }
        Err(error) => debug!(%from, %error, "cannot answer an inbound stream"),
    }
}

/// Runs one stream request of the machine: dial, write, read the reply when one is expected.
pub(crate) async fn run_outbound<T: Transport>(
    transport: Arc<T>,
    req: StreamRequest,
    ctx: Arc<StreamContext>,
) -> StreamOutcome {
    let counters = &ctx.counters;
    let push_pull = matches!(req.kind, StreamKind::PushPull { .. });
    let _in_flight = push_pull.then(|| counters.push_pull_started());
    let started = Instant::now();
    match outbound(&*transport, &req, &ctx).await {
        Ok(outcome) => {
            if push_pull {
                let m = &counters.metrics;
                m.record(Histogram::PushPullNode, started.elapsed().as_secs_f64());
                m.record(Histogram::PushPullSizeLocal, req.data.len() as f64);
            }
            outcome
        }
        Err(error) => {
            debug!(to = %req.to, kind = ?req.kind, %error, "stream request failed");
            StreamOutcome::Failed(error)
        }
    }
}

async fn outbound<T: Transport>(
    transport: &T,
    req: &StreamRequest,
    ctx: &StreamContext,
) -> Result<StreamOutcome, StreamError> {
    let counters = &*ctx.counters;
    let to = req.to;
    let deadline = Instant::from_std(req.deadline);
    let mut stream = transport.connect(to, req.deadline).await.map_err(|e| {
        if e.is_timeout() {
            StreamError::Timeout {
                to,
                phase: StreamPhase::Connect,
            }
        } else {
            StreamError::Connect {
                to,
                source: Arc::new(e),
            }
        }
    })?;
    // The TCP fallback ping lives within the probe's deadline; the other exchanges re-arm
    // the TCP timeout for each phase, as Go does.
    let phase_deadline = || match req.kind {
        StreamKind::Ping { .. } => deadline,
        _ => Instant::now() + ctx.tcp_timeout,
    };
    let close = !req.expects_reply;
    write_within(
        &mut stream,
        to,
        &req.data,
        phase_deadline(),
        counters,
        close,
    )
    .await?;
    if close {
        return Ok(StreamOutcome::Sent);
    }
    let read = read_within(&mut stream, to, StreamRole::Dialer, ctx, phase_deadline()).await;
    let (msg, size) = read
        .inspect_err(|e| {
            if let Some(limit) = read_limit(e) {
                counters.metrics.increment(Counter::LimitExceeded(limit), 1);
            }
        })?
        .ok_or(StreamError::NoReply { to })?;
    if msg.first() == Some(&MessageType::PushPull.byte()) {
        counters
            .metrics
            .record(Histogram::PushPullSizeRemote, size as f64);
    }
    Ok(StreamOutcome::Reply(msg))
}
