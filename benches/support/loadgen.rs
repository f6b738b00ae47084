//! The load generator: N connections, each looping send a pre-encoded search → read until
//! SearchResultDone, counting the entries of every answer against what the mix expects and
//! recording latency into an HDR histogram. It reads only BER framing, not LDAP semantics
//! beyond the result code, so it stays cheap next to the servers it drives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// [APPLICATION 4] SearchResultEntry, constructed.
const SEARCH_ENTRY: u8 = 0x64;
/// [APPLICATION 5] SearchResultDone, constructed.
const SEARCH_DONE: u8 = 0x65;
/// [APPLICATION 19] SearchResultReference, constructed.
const SEARCH_REFERENCE: u8 = 0x73;

/// The searches one run sends, round robin, and the entries each must return.
pub struct Workload {
    pub pdus: Vec<Vec<u8>>,
    pub expected_entries: usize,
}

/// What one run measured.
pub struct Sample {
    pub searches: u64,
    pub elapsed: Duration,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
}

impl Sample {
    pub fn per_second(&self) -> f64 {
        self.searches as f64 / self.elapsed.as_secs_f64()
    }
}

/// One framed message at the head of `buf`: its length, its protocolOp tag, and the
/// resultCode when it is a SearchResultDone. `Ok(None)` while the message is incomplete.
fn frame(buf: &[u8]) -> Result<Option<(usize, u8, u8)>, String> {
    let Some((body, len)) = header(buf, 0x30)? else {
        return Ok(None);
    };
    let total = body + len;
    if buf.len() < total {
        return Ok(None);
    }
    // messageID INTEGER, then the protocolOp.
    let (id_body, id_len) = header(&buf[body..total], 0x02)?.ok_or("truncated message id")?;
    let op_at = body + id_body + id_len;
    let op = *buf.get(op_at).ok_or("no protocolOp")?;
    let mut code = 0;
    if op == SEARCH_DONE {
        let (op_body, _) = header(&buf[op_at..total], op)?.ok_or("truncated result")?;
        let (code_body, code_len) =
            header(&buf[op_at + op_body..total], 0x0a)?.ok_or("truncated resultCode")?;
        if code_len != 1 {
            return Err("resultCode longer than one byte".into());
        }
        code = buf[op_at + op_body + code_body];
    }
    Ok(Some((total, op, code)))
}

/// The tag `want` and its definite length at the head of `buf`: (header bytes, content
/// bytes); `Ok(None)` while the header is incomplete.
fn header(buf: &[u8], want: u8) -> Result<Option<(usize, usize)>, String> {
    let (Some(&tag), Some(&first)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if tag != want {
        return Err(format!("expected tag {want:#04x}, got {tag:#04x}"));
    }
    if first < 0x80 {
        return Ok(Some((2, first as usize)));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return Err(format!("unsupported BER length form {first:#04x}"));
    }
    let Some(bytes) = buf.get(2..2 + n) else {
        return Ok(None);
    };
    let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
    Ok(Some((2 + n, len)))
}

/// Sends `pdu` and reads its answer; returns the number of entries.
pub async fn one_search(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    pdu: &[u8],
) -> Result<usize, String> {
    stream
        .write_all(pdu)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut entries = 0;
    loop {
        while let Some((len, op, code)) = frame(buf)? {
            buf.advance(len);
            match op {
                SEARCH_ENTRY => entries += 1,
                SEARCH_REFERENCE => {}
                SEARCH_DONE if code == 0 => return Ok(entries),
                SEARCH_DONE => return Err(format!("search failed with resultCode {code}")),
                other => return Err(format!("unexpected protocolOp {other:#04x}")),
            }
        }
        buf.reserve(64 * 1024);
        let n = stream
            .read_buf(buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
    }
}

/// Every search of `w` once over `conns` connections, each answer's entry count checked
/// (before any measuring; with the cache on it also fills the cache).
pub async fn check(addr: SocketAddr, w: &Workload, conns: usize) -> Result<(), String> {
    let pdus = Arc::new(w.pdus.clone());
    let conns = conns.clamp(1, pdus.len());
    let mut tasks = Vec::new();
    for c in 0..conns {
        let pdus = pdus.clone();
        let expected = w.expected_entries;
        tasks.push(tokio::spawn(async move {
            let mut stream = connect(addr).await?;
            let mut buf = BytesMut::with_capacity(64 * 1024);
            for (i, pdu) in pdus.iter().enumerate().skip(c).step_by(conns) {
                let n = one_search(&mut stream, &mut buf, pdu).await?;
                if n != expected {
                    return Err(format!("search #{i} returned {n} entries, not {expected}"));
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// `conns` connections sending the searches of `w` round robin for `duration`; every
/// answer's entry count is checked, a wrong one fails the run.
pub async fn run(
    addr: SocketAddr,
    w: &Workload,
    conns: usize,
    duration: Duration,
) -> Result<Sample, String> {
    let pdus = Arc::new(w.pdus.clone());
    // Connect everyone first, so the sample measures searches, not handshakes.
    let mut streams = Vec::new();
    for _ in 0..conns {
        streams.push(connect(addr).await?);
    }
    let start = Instant::now();
    let until = start + duration;
    let mut tasks = Vec::new();
    for (c, mut stream) in streams.into_iter().enumerate() {
        let pdus = pdus.clone();
        let expected = w.expected_entries;
        tasks.push(tokio::spawn(async move {
            let mut latency =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let mut i = c * 7919;
            loop {
                let t = Instant::now();
                if t >= until {
                    break;
                }
                let pdu = &pdus[i % pdus.len()];
                i += 1;
                let n = one_search(&mut stream, &mut buf, pdu).await?;
                if n != expected {
                    return Err(format!("a search returned {n} entries, not {expected}"));
                }
                latency.saturating_record(t.elapsed().as_micros() as u64);
            }
            Ok::<_, String>(latency)
        }));
    }
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    for t in tasks {
        let h = t.await.map_err(|e| e.to_string())??;
        latency.add(&h).map_err(|e| e.to_string())?;
    }
    Ok(Sample {
        searches: latency.len(),
        elapsed: start.elapsed(),
        latency,
    })
}

pub async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(stream)
}
