//! srv_http — Tokio peer of bench/srv_http.c for bench/realclients.sh: an
//! HTTP/1.1 keep-alive server on a raw `TcpListener` (no hyper), 127.0.0.1
//! only, a task per connection.
//!
//! ```text
//! GET /          200 "Hello, World!"
//! GET /offload   the same, after a 50 us blocking call (thread::sleep) on
//!                Tokio's blocking pool (spawn_blocking)
//! anything else  404
//! ```
//!
//! Requests may be pipelined; a body (Content-Length) is read and dropped,
//! chunked bodies are refused (501).  usage: srv_http [-p PORT] [-w N];
//! SIGUSR1 prints statistics, SIGINT or SIGTERM stops it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use weft_peers_tokio::server::{self, Conn, End};

const BODY: &str = "Hello, World!";

static OFFLOADS_IN_FLIGHT: AtomicI64 = AtomicI64::new(0);
static REQUESTS: AtomicU64 = AtomicU64::new(0);

#[derive(PartialEq)]
enum Route {
    Hello,
    Offload,
    NotFound,
}

struct Request {
    head_len: usize,
    route: Route,
    keep_alive: bool,
    chunked: bool,
    content_length: u64,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` if `line` is that header (case-insensitive).
fn header<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let n = name.len();
    if line.len() <= n || line[n] != b':' || !line[..n].eq_ignore_ascii_case(name.as_bytes()) {
        return None;
    }
    let v = &line[n + 1..];
    let skip = v.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    Some(&v[skip..])
}

fn starts_with_ci(v: &[u8], word: &str) -> bool {
    v.len() >= word.len() && v[..word.len()].eq_ignore_ascii_case(word.as_bytes())
}

/// Ok(Some) when the head is complete, Ok(None) when more bytes are needed,
/// Err when it is malformed.
fn parse(p: &[u8]) -> Result<Option<Request>, ()> {
    let head_end = match find(p, b"\r\n\r\n") {
        Some(i) => i,
        None => return Ok(None),
    };
    let eol = find(p, b"\r\n").unwrap();
    let mut parts = p[..eol].split(|&c| c == b' ');
    let (method, path, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if v.len() == 8 && v.starts_with(b"HTTP/1.") => (m, t, v),
        _ => return Err(()),
    };
    let route = match (method, path) {
        (b"GET", b"/") => Route::Hello,
        (b"GET", b"/offload") => Route::Offload,
        _ => Route::NotFound,
    };
    let mut r = Request {
        head_len: head_end + 4,
        route,
        keep_alive: version[7] == b'1',
        chunked: false,
        content_length: 0,
    };
    if eol < head_end {
        for line in p[eol + 2..head_end].split(|&c| c == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(v) = header(line, "Content-Length") {
                r.content_length = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim_end().parse().ok())
                    .ok_or(())?;
            } else if let Some(v) = header(line, "Connection") {
                if starts_with_ci(v, "close") {
                    r.keep_alive = false;
                } else if starts_with_ci(v, "keep-alive") {
                    r.keep_alive = true;
                }
            } else if let Some(v) = header(line, "Transfer-Encoding") {
                r.chunked = !starts_with_ci(v, "identity");
            }
        }
    }
    Ok(Some(r))
}

fn respond(c: &mut Conn, status: &str, body: &str, keep_alive: bool) {
    let close = if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    c.out.extend_from_slice(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{close}\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

async fn offload() {
    OFFLOADS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_micros(50)))
        .await
        .unwrap_or_else(|e| weft_peers_tokio::fail!("spawn_blocking: {e}"));
    OFFLOADS_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
}

/// One request: Ok(true) to go on, Ok(false) to close after the answers.
async fn serve_one(c: &mut Conn) -> Result<bool, End> {
    let r = loop {
        match parse(c.data()) {
            Ok(Some(r)) => break r,
            Ok(None) => match c.fill().await {
                Err(End::TooLarge) => {
                    respond(c, "431 Request Header Fields Too Large", "", false);
                    return Ok(false);
                }
                other => other?,
            },
            Err(()) => {
                respond(c, "400 Bad Request", "", false);
                return Ok(false);
            }
        }
    };
    if r.chunked {
        respond(c, "501 Not Implemented", "", false);
        return Ok(false);
    }
    c.consume(r.head_len);
    let mut body = r.content_length;
    while body > 0 {
        if c.data().is_empty() {
            c.fill().await?;
        }
        let k = (c.data().len() as u64).min(body);
        c.consume(k as usize);
        body -= k;
    }
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    match r.route {
        Route::NotFound => respond(c, "404 Not Found", "Not Found", r.keep_alive),
        Route::Offload => {
            offload().await;
            respond(c, "200 OK", BODY, r.keep_alive)
        }
        Route::Hello => respond(c, "200 OK", BODY, r.keep_alive),
    }
    Ok(r.keep_alive)
}

async fn handle(s: TcpStream) {
    let mut c = Conn::new(s);
    while let Ok(true) = serve_one(&mut c).await {}
    let _ = c.flush().await;
}

fn stats() -> String {
    format!(
        "offloads_in_flight={} requests={}",
        OFFLOADS_IN_FLIGHT.load(Ordering::Relaxed),
        REQUESTS.load(Ordering::Relaxed)
    )
}

fn main() {
    let (port, workers) = server::args("HTTP/1.1: GET / and GET /offload (50 us blocking call)");
    server::serve("srv_http", port, workers, stats, handle);
}
