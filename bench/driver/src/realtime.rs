//! `bench-driver realtime`: PocketBase's realtime protocol under load (issue #14).
//!
//! 1. A create-only burst with no subscribers: create latency and server CPU per create.
//! 2. N SSE subscribers, each on its own connection (`GET /api/realtime`, then
//!    `POST /api/realtime` with its clientId and the topic), set up at most 64 at a time;
//!    server RSS before and with the N idle subscribers.
//! 3. M creates at R per second through one keep-alive connection, each stamped with its
//!    sequence number in `title` (the body template's `{n}`); the send time of each is kept.
//!    Every subscriber notes which sequence numbers arrive when. Then: per-event delivery
//!    latency, time for one event to reach all its subscribers, deliveries against expected,
//!    out-of-order and duplicate deliveries, create latency, server CPU per delivered event.
//!
//! With `--rule owner`, subscriber i authenticates with the token of line i of `--vars`
//! (`token<TAB>userId`) and create k is rendered with line k (its `{1}` is the author): a
//! subscriber expects exactly the creates whose author is its user (an owner list rule).
//! With `--creates 0` it only measures idle memory.
//!
//! The SSE side is a bare HTTP/1.1 reader (chunked decoding, frame splitting) with one
//! read buffer per worker thread, so that 10,000 idle subscribers cost the driver a few
//! KB each.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore, watch};

use crate::{Rng, Sender, Template, connect, cpu_ticks, machine_ticks, rss_kb, tree_ticks};

struct Config {
    addr: String,
    pid: Option<u32>,
    aux_pid: Option<u32>,
    clk_tck: f64,
    subscribers: usize,
    creates: u64,
    baseline: u64,
    rate: f64,
    owner: bool,
    topic: String,
    path: String,
    body: Template,
    headers: Vec<(String, String)>,
    vars: Vec<Vec<String>>,
    settle: f64,
    drain: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-driver realtime --url http://HOST:PORT --path CREATE-PATH --body TPL \
         [--topic posts/*] [--subscribers N] [--creates M] [--baseline-creates B] [--rate R] \
         [--rule empty|owner] [--vars FILE] [--header 'K: V']... [--pid PID] [--aux-pid PID] [--clk-tck HZ] \
         [--settle S] [--drain S]"
    );
    std::process::exit(2)
}

fn parse_args(args: impl Iterator<Item = String>) -> Config {
    let mut a = args;
    let mut cfg = Config {
        addr: String::new(),
        pid: None,
        aux_pid: None,
        clk_tck: 100.0,
        subscribers: 100,
        creates: 50,
        baseline: 0,
        rate: 10.0,
        owner: false,
        topic: "posts/*".into(),
        path: String::new(),
        body: Template::parse("{}"),
        headers: Vec::new(),
        vars: Vec::new(),
        settle: 2.0,
        drain: 10.0,
    };
    let mut baseline = None;
    while let Some(k) = a.next() {
        let v = a.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<f64>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--url" => cfg.addr = v.trim_start_matches("http://").trim_end_matches('/').to_string(),
            "--pid" => cfg.pid = Some(num(&v) as u32),
            "--aux-pid" => cfg.aux_pid = Some(num(&v) as u32),
            "--clk-tck" => cfg.clk_tck = num(&v),
            "--subscribers" => cfg.subscribers = num(&v) as usize,
            "--creates" => cfg.creates = num(&v) as u64,
            "--baseline-creates" => baseline = Some(num(&v) as u64),
            "--rate" => cfg.rate = num(&v).max(0.001),
            "--rule" => cfg.owner = v == "owner",
            "--topic" => cfg.topic = v,
            "--path" => cfg.path = v,
            "--body" => cfg.body = Template::parse(&v),
            "--header" => {
                let (hk, hv) = v.split_once(':').unwrap_or_else(|| usage());
                cfg.headers.push((hk.trim().to_string(), hv.trim().to_string()));
            }
            "--vars" => {
                let text = std::fs::read_to_string(&v).unwrap_or_else(|e| {
                    eprintln!("--vars {v}: {e}");
                    std::process::exit(2)
                });
                cfg.vars = text
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| l.split('\t').map(String::from).collect())
                    .collect();
            }
            "--settle" => cfg.settle = num(&v),
            "--drain" => cfg.drain = num(&v),
            _ => usage(),
        }
    }
    cfg.baseline = baseline.unwrap_or(cfg.creates);
    if cfg.addr.is_empty() || (cfg.path.is_empty() && cfg.creates + cfg.baseline > 0) {
        usage()
    }
    if cfg.owner && cfg.vars.is_empty() {
        eprintln!("--rule owner needs --vars FILE (token<TAB>userId lines)");
        std::process::exit(2)
    }
    cfg
}

/// Which `--vars` line subscriber i / create k uses (the user, under the owner rule).
fn line_of(cfg: &Config, i: u64) -> usize {
    if cfg.vars.is_empty() { 0 } else { (i % cfg.vars.len() as u64) as usize }
}

// ---------------------------------------------------------------- the SSE reader

/// Decodes an HTTP/1.1 response body (chunked or not) into SSE frames.
#[derive(Default)]
struct SseReader {
    headers_done: bool,
    chunked: bool,
    /// Raw bytes not decoded yet (response head, chunk-size lines).
    raw: Vec<u8>,
    /// Body bytes of the chunk being read still to come.
    chunk_left: usize,
    /// Decoded body bytes that do not form a whole frame yet.
    body: Vec<u8>,
    status: u16,
}

impl SseReader {
    /// Feeds bytes from the socket; calls `on_frame` with every whole frame.
    fn feed(&mut self, mut data: &[u8], on_frame: &mut impl FnMut(&[u8])) -> Result<(), String> {
        if !self.headers_done {
            self.raw.extend_from_slice(data);
            let Some(end) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Ok(());
            };
            let head = String::from_utf8_lossy(&self.raw[..end]).to_ascii_lowercase();
            self.status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            if self.status != 200 {
                return Err(format!("GET /api/realtime: {}", head.lines().next().unwrap_or("")));
            }
            self.chunked = head.contains("transfer-encoding: chunked");
            self.headers_done = true;
            let rest = self.raw.split_off(end + 4);
            self.raw = Vec::new();
            return self.feed(&rest, on_frame);
        }
        if !self.chunked {
            self.body.extend_from_slice(data);
        } else {
            while !data.is_empty() {
                if self.chunk_left > 0 {
                    let n = self.chunk_left.min(data.len());
                    self.body.extend_from_slice(&data[..n]);
                    self.chunk_left -= n;
                    data = &data[n..];
                    continue;
                }
                // A chunk-size line, or the CRLF after a chunk's data (an empty line).
                match data.iter().position(|&b| b == b'\n') {
                    None => {
                        self.raw.extend_from_slice(data);
                        data = &[];
                    }
                    Some(i) => {
                        self.raw.extend_from_slice(&data[..i]);
                        data = &data[i + 1..];
                        let line = String::from_utf8_lossy(&self.raw).trim().to_string();
                        self.raw.clear();
                        if line.is_empty() {
                            continue;
                        }
                        let size = line.split(';').next().unwrap_or("");
                        let size = usize::from_str_radix(size, 16)
                            .map_err(|_| format!("bad chunk size {line:?}"))?;
                        if size == 0 {
                            return Err("the server ended the stream".into());
                        }
                        self.chunk_left = size;
                    }
                }
            }
        }
        let mut start = 0;
        while let Some(i) = self.body[start..].windows(2).position(|w| w == b"\n\n") {
            on_frame(&self.body[start..start + i]);
            start += i + 2;
        }
        self.body.drain(..start);
        if self.body.is_empty() && self.body.capacity() > 4096 {
            self.body = Vec::new(); // idle subscribers keep no big buffer
        }
        Ok(())
    }
}

/// `event:` and `data:` of a frame.
fn parse_frame(frame: &[u8]) -> (Option<&str>, Option<&str>) {
    let text = std::str::from_utf8(frame).unwrap_or("");
    let (mut event, mut data) = (None, None);
    for line in text.split('\n') {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim_start());
        } else if let Some(v) = line.strip_prefix("data:") {
            data = Some(v.trim_start());
        }
    }
    (event, data)
}

/// The number in the record's `"title":"<n>"`.
fn title_seq(data: &str) -> Option<u64> {
    let i = data.find("\"title\":")? + 8;
    let rest = data[i..].trim_start().strip_prefix('"')?;
    let j = rest.find('"')?;
    rest[..j].parse().ok()
}

fn json_str(data: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let i = data.find(&pat)? + pat.len();
    let rest = data[i..].trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

thread_local! {
    /// One socket read buffer per worker thread, not per subscriber.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

#[derive(Default)]
struct SubResult {
    subscribed: bool,
    /// (sequence number, arrival in µs since the run's epoch)
    arrivals: Vec<(u32, u32)>,
    out_of_order: u64,
    duplicates: u64,
    /// The stream ended or failed after subscribing.
    dropped: bool,
    resyncs: u64,
    error: Option<String>,
}

/// Shared state of the subscribers.
struct Hub {
    epoch: Instant,
    delivered: AtomicU64,
    ready: AtomicUsize,
    failed: AtomicUsize,
    posters: Vec<Mutex<Option<Sender>>>,
    next_poster: AtomicUsize,
}

/// POST /api/realtime through one of a few shared keep-alive connections.
async fn post_subscription(hub: &Hub, addr: &str, body: String, token: Option<&str>) -> Result<(), String> {
    let i = hub.next_poster.fetch_add(1, Ordering::Relaxed) % hub.posters.len();
    let mut slot = hub.posters[i].lock().await;
    for attempt in 0..2 {
        if slot.as_ref().is_none_or(|s| s.is_closed()) {
            *slot = connect(addr).await;
        }
        let Some(s) = slot.as_mut() else { return Err("POST /api/realtime: cannot connect".into()) };
        let mut req =
            Request::post("/api/realtime").header("host", addr).header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        let req = req.body(Full::new(Bytes::from(body.clone()))).map_err(|e| e.to_string())?;
        let res = async {
            s.ready().await?;
            s.send_request(req).await
        }
        .await;
        match res {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let b = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                if (200..300).contains(&status) {
                    return Ok(());
                }
                return Err(format!(
                    "POST /api/realtime: {status} {}",
                    String::from_utf8_lossy(&b[..b.len().min(300)])
                ));
            }
            Err(e) if attempt == 1 => return Err(format!("POST /api/realtime: {e}")),
            Err(_) => *slot = None,
        }
    }
    Err("POST /api/realtime: failed".into())
}

/// Writes all of `buf` (tokio's io-util is not among the driver's features).
async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        stream.writable().await?;
        match stream.try_write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One subscriber: connect, read PB_CONNECT, subscribe, then note every event until stopped.
async fn subscriber(
    cfg: Arc<Config>,
    hub: Arc<Hub>,
    idx: usize,
    gate: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> SubResult {
    let mut out = SubResult::default();
    let permit = gate.acquire_owned().await.ok();
    let stream = match TcpStream::connect(&cfg.addr).await {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(format!("connect: {e}"));
            hub.failed.fetch_add(1, Ordering::Relaxed);
            return out;
        }
    };
    let _ = stream.set_nodelay(true);
    let req = format!(
        "GET /api/realtime HTTP/1.1\r\nhost: {}\r\naccept: text/event-stream\r\ncache-control: no-cache\r\n\r\n",
        cfg.addr
    );
    if let Err(e) = write_all(&stream, req.as_bytes()).await {
        out.error = Some(format!("write: {e}"));
        hub.failed.fetch_add(1, Ordering::Relaxed);
        return out;
    }
    let mut reader = SseReader::default();
    let mut permit = permit;
    let mut client_id: Option<String> = None;
    let mut max_seq: Option<u32> = None;
    let mut seen = std::collections::HashSet::<u32>::new();
    let token = if cfg.owner {
        cfg.vars.get(line_of(&cfg, idx as u64)).and_then(|l| l.first().cloned())
    } else {
        None
    };
    loop {
        // Before subscribing: read until PB_CONNECT, then POST the subscription.
        if out.subscribed || client_id.is_none() {
            tokio::select! {
                r = stream.readable() => {
                    if let Err(e) = r { out.error = Some(e.to_string()); break; }
                }
                _ = stop.changed() => break,
            }
            let mut frames: Vec<(Option<String>, Option<String>, Option<u64>)> = Vec::new();
            let read = READ_BUF.with(|b| {
                let mut b = b.borrow_mut();
                match stream.try_read(&mut b[..]) {
                    Ok(0) => Err("the server closed the stream".to_string()),
                    Ok(n) => {
                        let arrived = hub.epoch.elapsed().as_micros() as u32;
                        reader
                            .feed(&b[..n], &mut |f| {
                                let (event, data) = parse_frame(f);
                                match event {
                                    Some("PB_CONNECT") => frames.push((
                                        Some("PB_CONNECT".into()),
                                        data.and_then(|d| json_str(d, "clientId")),
                                        None,
                                    )),
                                    Some("PB_RESYNC") => frames.push((Some("PB_RESYNC".into()), None, None)),
                                    Some(_) => frames.push((None, None, data.and_then(title_seq))),
                                    None => {}
                                }
                            })
                            .map(|_| arrived)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(u32::MAX),
                    Err(e) => Err(e.to_string()),
                }
            });
            let arrived = match read {
                Ok(t) => t,
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            };
            for (event, data, seq) in frames {
                match event.as_deref() {
                    Some("PB_CONNECT") => client_id = data,
                    Some(_) => out.resyncs += 1,
                    None => {
                        let Some(seq) = seq.and_then(|s| u32::try_from(s).ok()) else { continue };
                        if !seen.insert(seq) {
                            out.duplicates += 1;
                        } else if max_seq.is_some_and(|m| seq < m) {
                            out.out_of_order += 1;
                        }
                        max_seq = max_seq.max(Some(seq));
                        out.arrivals.push((seq, arrived));
                        hub.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if out.subscribed || client_id.is_none() {
                continue;
            }
        }
        // PB_CONNECT came: subscribe.
        let id = client_id.clone().unwrap_or_default();
        let body = serde_json::json!({ "clientId": id, "subscriptions": [cfg.topic] }).to_string();
        match post_subscription(&hub, &cfg.addr, body, token.as_deref()).await {
            Ok(()) => {
                out.subscribed = true;
                hub.ready.fetch_add(1, Ordering::Relaxed);
                permit.take();
            }
            Err(e) => {
                out.error = Some(e);
                hub.failed.fetch_add(1, Ordering::Relaxed);
                return out;
            }
        }
    }
    if !out.subscribed {
        hub.failed.fetch_add(1, Ordering::Relaxed);
    } else if !*stop.borrow() {
        out.dropped = true;
    }
    out
}

// ---------------------------------------------------------------- creates

struct CreateRun {
    /// (send time µs since epoch, latency µs, ok) per sequence number
    sent: Vec<(u32, u32, bool)>,
    first_error: Option<String>,
}

/// `count` creates at `rate` per second, sequence numbers from `first`, on one connection.
async fn creates(cfg: &Config, epoch: Instant, first: u64, count: u64) -> CreateRun {
    let mut run = CreateRun { sent: Vec::with_capacity(count as usize), first_error: None };
    let mut sender: Option<Sender> = None;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let start = Instant::now();
    for k in 0..count {
        let due = start + Duration::from_secs_f64(k as f64 / cfg.rate);
        tokio::time::sleep_until(due.into()).await;
        let seq = first + k;
        let line = cfg.vars.get(line_of(cfg, seq));
        let vars: Vec<&str> = line.map(|l| l.iter().map(String::as_str).collect()).unwrap_or_default();
        let mut req = Request::post(cfg.path.as_str())
            .header("host", cfg.addr.as_str())
            .header("content-type", "application/json");
        for (hk, hv) in &cfg.headers {
            req = req.header(hk.as_str(), hv.as_str());
        }
        let req =
            req.body(Full::new(Bytes::from(cfg.body.render(&vars, seq, &mut rng)))).expect("valid request");
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            sender = connect(&cfg.addr).await;
        }
        let t0 = Instant::now();
        let res = match sender.as_mut() {
            Some(s) => async {
                s.ready().await?;
                s.send_request(req).await
            }
            .await
            .ok(),
            None => None,
        };
        let (ok, err) = match res {
            Some(resp) => {
                let status = resp.status().as_u16();
                let b = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let ok = (200..300).contains(&status);
                (
                    ok,
                    (!ok).then(|| {
                        format!("create: {status} {}", String::from_utf8_lossy(&b[..b.len().min(300)]))
                    }),
                )
            }
            None => {
                sender = None;
                (false, Some("create: transport error".into()))
            }
        };
        let lat = t0.elapsed().as_micros() as u32;
        run.sent.push((t0.duration_since(epoch).as_micros() as u32, lat, ok));
        if run.first_error.is_none() {
            run.first_error = err;
        }
    }
    run
}

// ---------------------------------------------------------------- the run

fn pct(sorted: &[u32], p: f64) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n => Some(sorted[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0),
    }
}

fn lat_summary(mut v: Vec<u32>) -> serde_json::Value {
    v.sort_unstable();
    let r3 = |x: Option<f64>| x.map(|x| (x * 1000.0).round() / 1000.0);
    serde_json::json!({
        "count": v.len(),
        "p50_ms": r3(pct(&v, 50.0)),
        "p90_ms": r3(pct(&v, 90.0)),
        "p99_ms": r3(pct(&v, 99.0)),
        "max_ms": r3(pct(&v, 100.0)),
        "mean_ms": r3((!v.is_empty()).then(|| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64 / 1000.0)),
    })
}

pub fn main(args: impl Iterator<Item = String>) {
    let cfg = parse_args(args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let out = rt.block_on(run(Arc::new(cfg)));
    println!("{out}");
}

async fn run(cfg: Arc<Config>) -> serde_json::Value {
    let epoch = Instant::now();
    let ticks = |pid: Option<u32>| pid.and_then(cpu_ticks);
    let secs =
        |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| b.saturating_sub(a) as f64 / cfg.clk_tck);
    let me = Some(std::process::id());
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;

    // 1. Creates with no subscribers.
    let c0 = ticks(cfg.pid);
    let base = creates(&cfg, epoch, 1_000_000_000, cfg.baseline).await;
    let base_cpu = secs(c0, ticks(cfg.pid));
    let base_ok = base.sent.iter().filter(|s| s.2).count() as u64;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 2. N subscribers; RSS before and with them idle.
    let rss_before = cfg.pid.and_then(rss_kb);
    let hub = Arc::new(Hub {
        epoch,
        delivered: AtomicU64::new(0),
        ready: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        posters: (0..8).map(|_| Mutex::new(None)).collect(),
        next_poster: AtomicUsize::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(64));
    let t_setup = Instant::now();
    let subs: Vec<_> = (0..cfg.subscribers)
        .map(|i| tokio::spawn(subscriber(cfg.clone(), hub.clone(), i, gate.clone(), stop_rx.clone())))
        .collect();
    while hub.ready.load(Ordering::Relaxed) + hub.failed.load(Ordering::Relaxed) < cfg.subscribers {
        if t_setup.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let setup_s = t_setup.elapsed().as_secs_f64();
    let subscribed = hub.ready.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(cfg.settle)).await;
    let rss_idle = cfg.pid.and_then(rss_kb);
    let driver_rss_idle = rss_kb(std::process::id());
    let rss_per_sub = rss_before
        .zip(rss_idle)
        .filter(|_| subscribed > 0)
        .map(|(a, b)| (b as f64 - a as f64) / subscribed as f64);

    // 3. M creates at R/s; wait for every expected delivery (or the drain time).
    let s0 = (ticks(cfg.pid), ticks(me), machine_ticks(), cfg.aux_pid.and_then(tree_ticks));
    let t_burst = Instant::now();
    let burst = creates(&cfg, epoch, 0, cfg.creates).await;
    let ok_creates: Vec<bool> = burst.sent.iter().map(|s| s.2).collect();
    // What the subscribed subscribers should receive (all of them with the empty rule; under
    // the owner rule, subscriber i gets create k when both use the same --vars line).
    let n_ok = |line: Option<usize>| {
        (0..cfg.creates)
            .filter(|&k| ok_creates[k as usize] && line.is_none_or(|l| line_of(&cfg, k) == l))
            .count() as u64
    };
    let expected_total: u64 = if cfg.owner {
        (0..cfg.subscribers).map(|i| n_ok(Some(line_of(&cfg, i as u64)))).sum()
    } else {
        n_ok(None) * hub.ready.load(Ordering::Relaxed) as u64
    };
    // Only subscribers that subscribed can receive.
    let drain_until = Instant::now() + Duration::from_secs_f64(cfg.drain);
    if cfg.creates > 0 {
        while Instant::now() < drain_until {
            // expected counts every subscriber; compare once all subscribed ones are done
            if hub.delivered.load(Ordering::Relaxed) >= expected_total {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let burst_s = t_burst.elapsed().as_secs_f64();
    let s1 = (ticks(cfg.pid), ticks(me), machine_ticks(), cfg.aux_pid.and_then(tree_ticks));
    let rss_end = cfg.pid.and_then(rss_kb);
    let _ = stop_tx.send(true);
    // Subscribers still setting up (a server that stopped answering) are given up on.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut results = Vec::with_capacity(subs.len());
    for mut t in subs {
        match tokio::time::timeout_at(give_up, &mut t).await {
            Ok(r) => results.push(r.unwrap_or_default()),
            Err(_) => {
                t.abort();
                results.push(SubResult {
                    error: Some("still setting up at the end".into()),
                    ..SubResult::default()
                });
            }
        }
    }

    // Expected: every ok create, for every subscriber that subscribed (and whose user the
    // owner rule lets see it).
    let mut expected = 0u64;
    let mut delivered = 0u64;
    let (mut ooo, mut ooo_subs, mut dups, mut dropped, mut resyncs) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_error = base.first_error.clone().or(burst.first_error.clone());
    let mut sub_errors = 0u64;
    let mut unexpected = 0u64;
    let mut delivery = Vec::new();
    // per event: (subscribers expected, arrived, latest arrival latency)
    let mut reach: Vec<(u64, u64, u32)> = vec![(0, 0, 0); cfg.creates as usize];
    for (i, r) in results.iter().enumerate() {
        if r.error.is_some() && !r.subscribed {
            sub_errors += 1;
            first_error = first_error.or(r.error.clone());
        }
        if !r.subscribed {
            continue;
        }
        for k in 0..cfg.creates as usize {
            if ok_creates[k] && (!cfg.owner || line_of(&cfg, k as u64) == line_of(&cfg, i as u64)) {
                expected += 1;
                reach[k].0 += 1;
            }
        }
        ooo += r.out_of_order;
        ooo_subs += u64::from(r.out_of_order > 0);
        dups += r.duplicates;
        dropped += u64::from(r.dropped);
        resyncs += r.resyncs;
        if r.dropped && first_error.is_none() {
            first_error = r.error.clone();
        }
        for &(seq, at) in &r.arrivals {
            let Some(&(sent, _, _)) = burst.sent.get(seq as usize) else { continue };
            if cfg.owner && line_of(&cfg, u64::from(seq)) != line_of(&cfg, i as u64) {
                unexpected += 1; // a record the owner rule hides from this subscriber
                continue;
            }
            delivered += 1;
            let lat = at.saturating_sub(sent);
            delivery.push(lat);
            let e = &mut reach[seq as usize];
            e.1 += 1;
            e.2 = e.2.max(lat);
        }
    }
    let reach_all: Vec<u32> = reach.iter().filter(|e| e.0 > 0 && e.1 >= e.0).map(|e| e.2).collect();
    let events_not_reaching_all = reach.iter().filter(|e| e.0 > 0 && e.1 < e.0).count();

    let server_cpu = secs(s0.0, s1.0);
    let driver_cpu = secs(s0.1, s1.1);
    let busy = secs(s0.2.map(|m| m.0), s1.2.map(|m| m.0));
    let steal = secs(s0.2.map(|m| m.1), s1.2.map(|m| m.1));
    let aux_cpu = secs(s0.3, s1.3);
    let other = match (busy, steal, server_cpu, driver_cpu) {
        (Some(b), Some(st), Some(c), Some(d)) => Some((b - st - c - d - aux_cpu.unwrap_or(0.0)).max(0.0)),
        _ => None,
    };
    let per_create_base = base_cpu.filter(|_| base_ok > 0).map(|c| c / base_ok as f64);
    let ok_burst = ok_creates.iter().filter(|&&o| o).count() as f64;
    let us = |x: f64| (x * 1e6 * 100.0).round() / 100.0;
    let cpu_per_delivery = server_cpu.filter(|_| delivered > 0).map(|c| us(c / delivered as f64));
    let cpu_per_delivery_net = server_cpu
        .zip(per_create_base)
        .filter(|_| delivered > 0)
        .map(|(c, pc)| us(((c - pc * ok_burst).max(0.0)) / delivered as f64));
    let create_base = lat_summary(base.sent.iter().filter(|s| s.2).map(|s| s.1).collect());
    let create_subs = lat_summary(burst.sent.iter().filter(|s| s.2).map(|s| s.1).collect());
    let ratio = |k: &str| {
        let (a, b) = (create_base[k].as_f64(), create_subs[k].as_f64());
        a.zip(b).filter(|(a, _)| *a > 0.0).map(|(a, b)| (b / a * 1000.0).round() / 1000.0)
    };
    serde_json::json!({
        "rule": if cfg.owner { "owner" } else { "empty" },
        "topic": cfg.topic,
        "subscribers": cfg.subscribers,
        "subscribed": subscribed,
        "subscribe_errors": sub_errors,
        "setup_s": r3(setup_s),
        "creates": cfg.creates,
        "creates_ok": ok_burst as u64,
        "rate": cfg.rate,
        "baseline_creates": cfg.baseline,
        "rss_before_kb": rss_before,
        "rss_idle_kb": rss_idle,
        "rss_end_kb": rss_end,
        "driver_rss_idle_kb": driver_rss_idle,
        "rss_per_subscriber_kb": rss_per_sub.map(|x| (x * 100.0).round() / 100.0),
        "expected": expected,
        "delivered": delivered,
        "lost": expected.saturating_sub(delivered),
        "duplicates": dups,
        "unexpected": unexpected,
        "out_of_order": ooo,
        "out_of_order_subscribers": ooo_subs,
        "dropped_streams": dropped,
        "resyncs": resyncs,
        "delivery": lat_summary(delivery),
        "reach_all": lat_summary(reach_all),
        "events_not_reaching_all": events_not_reaching_all,
        "create_no_subscribers": create_base,
        "create_with_subscribers": create_subs,
        "create_p50_ratio": ratio("p50_ms"),
        "create_mean_ratio": ratio("mean_ms"),
        "create_p99_ratio": ratio("p99_ms"),
        "burst_s": r3(burst_s),
        "server_cpu_s": server_cpu.map(r3),
        "baseline_cpu_s": base_cpu.map(r3),
        "cpu_us_per_create_no_subscribers": per_create_base.map(us),
        "cpu_us_per_delivery": cpu_per_delivery,
        "cpu_us_per_delivery_net": cpu_per_delivery_net,
        "aux_cpu_s": aux_cpu.map(r3),
        "aux_cpu_us_per_delivery": aux_cpu.filter(|_| delivered > 0).map(|c| us(c / delivered as f64)),
        "driver_cpu_s": driver_cpu.map(r3),
        "other_cpu_s": other.map(r3),
        "steal_s": steal.map(r3),
        "seconds": r3(burst_s),
        "first_error": first_error,
    })
}
