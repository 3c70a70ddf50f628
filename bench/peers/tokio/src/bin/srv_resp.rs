//! srv_resp — Tokio peer of bench/srv_resp.c for bench/realclients.sh: a
//! Redis-protocol (RESP2) key-value server on a raw `TcpListener`, 127.0.0.1
//! only, a task per connection, the keys in one `HashMap` under a
//! `std::sync::Mutex` (held for a map operation only, never across an
//! await, as Tokio's documentation recommends).
//!
//! Commands: PING [msg], ECHO msg, SET key value, GET key, INCR key,
//! DEL key..., EXISTS key..., CONFIG GET param (what redis-benchmark asks on
//! connect).  Requests as RESP arrays or inline, pipelined or not: the
//! answers of the requests in one read go out in one write.
//!
//! usage: srv_resp [-p PORT] [-w N]; SIGUSR1 prints statistics, SIGINT or
//! SIGTERM stops it.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use weft_peers_tokio::server::{self, Conn, End};

const MAX_ARGS: usize = 64;

static COMMANDS: AtomicU64 = AtomicU64::new(0);

type Store = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

/// A command: its arguments as ranges of the input, and its length.
struct Command {
    args: Vec<Range<usize>>,
    used: usize,
}

/// "<digits>\r\n" at p[at..]: Ok(Some((number, index after the CRLF))),
/// Ok(None) when incomplete.
fn count(p: &[u8], at: usize) -> Result<Option<(usize, usize)>, ()> {
    let eol = match p[at..].windows(2).position(|w| w == b"\r\n") {
        Some(i) => at + i,
        None if p.len() - at > 20 => return Err(()),
        None => return Ok(None),
    };
    let digits = &p[at..eol];
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    let n = digits
        .iter()
        .fold(0usize, |v, &d| v * 10 + (d - b'0') as usize);
    Ok(Some((n, eol + 2)))
}

fn parse_array(p: &[u8]) -> Result<Option<Command>, ()> {
    let (argc, mut q) = match count(p, 1)? {
        Some(x) => x,
        None => return Ok(None),
    };
    if argc < 1 || argc > MAX_ARGS {
        return Err(());
    }
    let mut args = Vec::with_capacity(argc);
    for _ in 0..argc {
        if q == p.len() {
            return Ok(None);
        }
        if p[q] != b'$' {
            return Err(());
        }
        let (len, at) = match count(p, q + 1)? {
            Some(x) => x,
            None => return Ok(None),
        };
        if p.len() - at < len + 2 {
            return Ok(None);
        }
        if &p[at + len..at + len + 2] != b"\r\n" {
            return Err(());
        }
        args.push(at..at + len);
        q = at + len + 2;
    }
    Ok(Some(Command { args, used: q }))
}

fn parse_inline(p: &[u8]) -> Result<Option<Command>, ()> {
    let eol = match p.iter().position(|&c| c == b'\n') {
        Some(i) => i,
        None => return Ok(None),
    };
    let end = if eol > 0 && p[eol - 1] == b'\r' {
        eol - 1
    } else {
        eol
    };
    let mut args = Vec::new();
    let mut i = 0;
    while i < end {
        if p[i] == b' ' {
            i += 1;
            continue;
        }
        let w = i;
        while i < end && p[i] != b' ' {
            i += 1;
        }
        if args.len() == MAX_ARGS {
            return Err(());
        }
        args.push(w..i);
    }
    Ok(Some(Command {
        args,
        used: eol + 1,
    }))
}

fn parse(p: &[u8]) -> Result<Option<Command>, ()> {
    match p.first() {
        None => Ok(None),
        Some(b'*') => parse_array(p),
        Some(_) => parse_inline(p),
    }
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn integer(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(format!(":{n}\r\n").as_bytes());
}

fn error(out: &mut Vec<u8>, msg: &str) {
    out.extend_from_slice(format!("-ERR {msg}\r\n").as_bytes());
}

/// The store's commands and how many arguments each takes (name included;
/// negative: at least that many).
const STORE_COMMANDS: [(&str, i32); 5] = [
    ("GET", 2),
    ("SET", 3),
    ("INCR", 2),
    ("DEL", -2),
    ("EXISTS", -2),
];

fn exec_locked(kv: &mut HashMap<Vec<u8>, Vec<u8>>, out: &mut Vec<u8>, name: &str, a: &[&[u8]]) {
    match name {
        "GET" => match kv.get(a[1]) {
            Some(v) => bulk(out, v),
            None => out.extend_from_slice(b"$-1\r\n"),
        },
        "SET" => {
            kv.insert(a[1].to_vec(), a[2].to_vec());
            out.extend_from_slice(b"+OK\r\n");
        }
        "INCR" => {
            let old = match kv.get(a[1]) {
                None => Some(0i64),
                Some(v) => std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()),
            };
            match old {
                None => error(out, "value is not an integer or out of range"),
                Some(i64::MAX) => error(out, "increment or decrement would overflow"),
                Some(v) => {
                    kv.insert(a[1].to_vec(), (v + 1).to_string().into_bytes());
                    integer(out, v + 1);
                }
            }
        }
        _ => {
            let mut n = 0;
            for k in &a[1..] {
                let there = if name == "DEL" {
                    kv.remove(*k).is_some()
                } else {
                    kv.contains_key(*k)
                };
                n += there as i64;
            }
            integer(out, n);
        }
    }
}

fn exec(store: &Store, out: &mut Vec<u8>, a: &[&[u8]]) {
    COMMANDS.fetch_add(1, Ordering::Relaxed);
    if a.is_empty() {
        return;
    }
    let name = String::from_utf8_lossy(a[0]).to_ascii_uppercase();
    if let Some(&(_, want)) = STORE_COMMANDS.iter().find(|(n, _)| *n == name) {
        let argc = a.len() as i32;
        if (want > 0 && argc != want) || (want < 0 && argc < -want) {
            return error(out, "wrong number of arguments");
        }
        let mut kv = store.lock().unwrap();
        return exec_locked(&mut kv, out, &name, a);
    }
    match (name.as_str(), a.len()) {
        ("PING", 1) => out.extend_from_slice(b"+PONG\r\n"),
        ("PING", 2) | ("ECHO", 2) => bulk(out, a[1]),
        ("CONFIG", 3) if a[1].eq_ignore_ascii_case(b"GET") => {
            let value: Option<&[u8]> = if a[2].eq_ignore_ascii_case(b"save") {
                Some(b"")
            } else if a[2].eq_ignore_ascii_case(b"appendonly") {
                Some(b"no")
            } else {
                None
            };
            match value {
                Some(v) => {
                    out.extend_from_slice(b"*2\r\n");
                    bulk(out, a[2]);
                    bulk(out, v);
                }
                None => out.extend_from_slice(b"*0\r\n"),
            }
        }
        _ => error(out, "unknown command or wrong number of arguments"),
    }
}

async fn handle(store: Store, s: TcpStream) {
    let mut c = Conn::new(s);
    loop {
        let cmd = match parse(c.data()) {
            Ok(Some(cmd)) => cmd,
            Ok(None) => match c.fill().await {
                Ok(()) => continue,
                Err(End::TooLarge) => {
                    error(&mut c.out, "request too large");
                    break;
                }
                Err(End::Closed) => return,
            },
            Err(()) => {
                error(&mut c.out, "Protocol error");
                break;
            }
        };
        // The arguments borrow the input: answer into a buffer of our own.
        let mut out = std::mem::take(&mut c.out);
        let data = c.data();
        let args: Vec<&[u8]> = cmd.args.iter().map(|r| &data[r.clone()]).collect();
        exec(&store, &mut out, &args);
        c.out = out;
        c.consume(cmd.used);
    }
    let _ = c.flush().await;
}

fn stats() -> String {
    format!("commands={}", COMMANDS.load(Ordering::Relaxed))
}

fn main() {
    let (port, workers) = server::args("RESP2: PING ECHO SET GET INCR DEL EXISTS CONFIG GET");
    let store: Store = Arc::new(Mutex::new(HashMap::new()));
    server::serve("srv_resp", port, workers, stats, move |s| {
        handle(store.clone(), s)
    });
}
