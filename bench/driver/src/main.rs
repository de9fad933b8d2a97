#![recursion_limit = "256"]
//! bench-driver: a closed-loop HTTP/1.1 keep-alive load driver.
//!
//! N connections each send request → wait for the response → send the next, for a fixed
//! duration (after an optional warm-up) or until a fixed total count is done. Paths, header
//! values and bodies are templates: `{0}`..`{9}` = columns (tab-separated) of a random line
//! of `--vars FILE`, `{n}` = global sequence number, `{r:N}` = random integer in [0, N),
//! `{b}` = random bool. With `--pid`, it also samples the server process: CPU seconds
//! (utime+stime from /proc/PID/stat) over the measured window and max VmRSS.
//! `--url` and `--pid` can be repeated (several nodes of one service): connection i goes to
//! the i-th URL modulo their number, and CPU and RSS are the sums over the PIDs.
//! `--aux-pid PID` reports the CPU of a process tree next to the server's, e.g. the
//! PostgreSQL postmaster and its backends (`aux_cpu_s`).
//! `--rate N` sends N requests per second in all on a fixed schedule instead of as fast as
//! possible, and counts each latency from when its request was due.
//! Prints one JSON object on stdout. `bench-driver realtime ...` is the realtime mode
//! (realtime.rs): SSE subscribers and creates.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

mod realtime;

#[derive(Clone, Debug)]
enum Part {
    Lit(String),
    Var(usize),
    Seq,
    Rand(u64),
    Bool,
}

#[derive(Clone, Debug)]
struct Template(Vec<Part>);

impl Template {
    fn parse(s: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            lit.push_str(&rest[..i]);
            rest = &rest[i..];
            let tok = rest[1..].find('}').map(|j| &rest[1..1 + j]);
            let part = match tok {
                Some("n") => Some(Part::Seq),
                Some("b") => Some(Part::Bool),
                Some(t) if t.len() == 1 && t.as_bytes()[0].is_ascii_digit() => {
                    Some(Part::Var((t.as_bytes()[0] - b'0') as usize))
                }
                Some(t) if t.starts_with("r:") => t[2..].parse().ok().map(Part::Rand),
                _ => None,
            };
            match (part, tok) {
                (Some(p), Some(t)) => {
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(p);
                    rest = &rest[t.len() + 2..];
                }
                _ => {
                    lit.push('{');
                    rest = &rest[1..];
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Template(parts)
    }

    fn render(&self, vars: &[&str], seq: u64, rng: &mut Rng) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(i) => out.push_str(vars.get(*i).copied().unwrap_or("")),
                Part::Seq => out.push_str(&seq.to_string()),
                Part::Rand(n) => out.push_str(&(rng.next() % (*n).max(1)).to_string()),
                Part::Bool => out.push_str(if rng.next() & 1 == 1 { "true" } else { "false" }),
            }
        }
        out
    }
}

/// xorshift64*: enough randomness for picking ids, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

struct Config {
    addrs: Vec<String>,
    method: hyper::Method,
    path: Template,
    headers: Vec<(String, Template)>,
    body: Option<Template>,
    /// A raw body sent as it is (an upload; its content type comes from `--header`).
    body_file: Option<Bytes>,
    vars: Vec<String>,
    /// Take the vars lines in order (request n gets line n), not at random.
    in_order: bool,
    conns: usize,
    duration: Option<f64>,
    count: Option<u64>,
    warmup: f64,
    pids: Vec<u32>,
    aux_pid: Option<u32>,
    clk_tck: f64,
    save: Option<String>,
    expect: Option<String>,
    threads: usize,
    /// Requests per second over all connections, each connection at its share on a fixed
    /// schedule; a request's latency counts from when it was due, so a stall also counts
    /// against the requests it held back. None: each connection sends as fast as it can.
    rate: Option<f64>,
}

#[derive(Default)]
struct ConnStats {
    lat_us: Vec<u32>,
    /// When each measured request started (µs after the warm-up), beside `lat_us`.
    start_us: Vec<u32>,
    status: BTreeMap<u16, u64>,
    transport_errors: u64,
    unexpected: u64,
    first_error: Option<String>,
    saved: Vec<String>,
}

struct Shared {
    cfg: Config,
    seq: AtomicU64,
    measure_from: Instant,
    end: Option<Instant>,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-driver --url http://HOST:PORT... --path TPL [--method M] [--header 'K: TPL']... \
         [--body TPL | --body-file FILE] [--vars FILE [--in-order 1]] [--conns N] (--duration S [--warmup S] | --count N) \
         [--pid PID]... [--aux-pid PID] [--clk-tck HZ] [--save FILE] [--expect STR] [--threads N] [--rate REQ_PER_S]\n\
         \x20      bench-driver realtime ... (SSE subscribers and creates; `bench-driver realtime` prints its usage)"
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let mut a = std::env::args().skip(1);
    let mut cfg = Config {
        addrs: Vec::new(),
        method: hyper::Method::GET,
        path: Template::parse("/"),
        headers: Vec::new(),
        body: None,
        body_file: None,
        vars: Vec::new(),
        in_order: false,
        conns: 1,
        duration: None,
        count: None,
        warmup: 0.0,
        pids: Vec::new(),
        aux_pid: None,
        clk_tck: 100.0,
        save: None,
        expect: None,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        rate: None,
    };
    while let Some(k) = a.next() {
        let v = a.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<f64>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--url" => cfg.addrs.push(v.trim_start_matches("http://").trim_end_matches('/').to_string()),
            "--method" => cfg.method = v.parse().unwrap_or_else(|_| usage()),
            "--path" => cfg.path = Template::parse(&v),
            "--header" => {
                let (hk, hv) = v.split_once(':').unwrap_or_else(|| usage());
                cfg.headers.push((hk.trim().to_string(), Template::parse(hv.trim())));
            }
            "--body" => cfg.body = Some(Template::parse(&v)),
            "--body-file" => {
                let bytes = std::fs::read(&v).unwrap_or_else(|e| {
                    eprintln!("--body-file {v}: {e}");
                    std::process::exit(2)
                });
                cfg.body_file = Some(Bytes::from(bytes));
            }
            "--in-order" => cfg.in_order = v == "1",
            "--vars" => {
                let text = std::fs::read_to_string(&v).unwrap_or_else(|e| {
                    eprintln!("--vars {v}: {e}");
                    std::process::exit(2)
                });
                cfg.vars = text.lines().filter(|l| !l.is_empty()).map(String::from).collect();
            }
            "--conns" => cfg.conns = num(&v) as usize,
            "--duration" => cfg.duration = Some(num(&v)),
            "--count" => cfg.count = Some(num(&v) as u64),
            "--warmup" => cfg.warmup = num(&v),
            "--pid" => cfg.pids.push(num(&v) as u32),
            "--aux-pid" => cfg.aux_pid = Some(num(&v) as u32),
            "--clk-tck" => cfg.clk_tck = num(&v),
            "--save" => cfg.save = Some(v),
            "--expect" => cfg.expect = Some(v),
            "--threads" => cfg.threads = num(&v) as usize,
            "--rate" => cfg.rate = Some(num(&v)).filter(|r| *r > 0.0),
            _ => usage(),
        }
    }
    if cfg.addrs.is_empty() || cfg.duration.is_none() == cfg.count.is_none() {
        usage()
    }
    cfg
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split(' ').collect();
    // Fields after the command: state is field 3, utime 14, stime 15 (1-based).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// CPU of a process tree, in clock ticks: the process (with its reaped children's time,
/// cutime + cstime) plus its living direct children (e.g. PostgreSQL's postmaster and backends).
fn tree_ticks(pid: u32) -> Option<u64> {
    let fields = |p: &str| -> Option<Vec<u64>> {
        let s = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        // After the command: state, ppid, ...; utime is field 14 (1-based), cutime 16.
        let f: Vec<&str> = s[s.rfind(')')? + 2..].split(' ').collect();
        let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok());
        Some(vec![n(1)?, n(11)?, n(12)?, n(13)?, n(14)?])
    };
    let me = fields(&pid.to_string())?;
    let mut total = me[1] + me[2] + me[3] + me[4];
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let Some(p) = name.to_str().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) else { continue };
        if let Some(f) = fields(p)
            && f[0] == u64::from(pid)
        {
            total += f[1] + f[2];
        }
    }
    Some(total)
}

/// Whole-machine CPU from /proc/stat, in clock ticks: (busy incl. steal, steal).
fn machine_ticks() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = s.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?;
    Some((busy, *f.get(7)?))
}

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> Option<Sender> {
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(conn);
    Some(sender)
}

fn extract_id(body: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    let i = s.find("\"id\":\"")? + 6;
    let j = s[i..].find('"')?;
    Some(s[i..i + j].to_string())
}

async fn conn_loop(sh: Arc<Shared>, id: usize) -> ConnStats {
    let cfg = &sh.cfg;
    let addr = &cfg.addrs[id % cfg.addrs.len()];
    let mut st = ConnStats::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) * 0x1000_0000_01B3));
    let mut sender: Option<Sender> = None;
    let expect = cfg.expect.as_deref().map(str::as_bytes);
    // With --rate: when this connection's next request is due (connections start staggered).
    let interval = cfg.rate.map(|r| Duration::from_secs_f64(cfg.conns as f64 / r));
    let mut due = interval.map(|i| Instant::now() + i.mul_f64(id as f64 / cfg.conns as f64));
    loop {
        if let Some(d) = due {
            tokio::time::sleep_until(d.into()).await;
        }
        let seq = sh.seq.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = cfg.count
            && seq >= n
        {
            break;
        }
        let t0 = Instant::now();
        if sh.end.is_some_and(|e| t0 >= e) {
            break;
        }
        let pick = if cfg.in_order { seq } else { rng.next() };
        let line = if cfg.vars.is_empty() { "" } else { &cfg.vars[(pick % cfg.vars.len() as u64) as usize] };
        let vars: Vec<&str> = line.split('\t').collect();
        let mut req = Request::builder()
            .method(cfg.method.clone())
            .uri(cfg.path.render(&vars, seq, &mut rng))
            .header("host", addr.as_str());
        for (k, v) in &cfg.headers {
            req = req.header(k.as_str(), v.render(&vars, seq, &mut rng));
        }
        let body = match &cfg.body {
            _ if cfg.body_file.is_some() => cfg.body_file.clone().unwrap_or_default(),
            Some(t) => {
                req = req.header("content-type", "application/json");
                Bytes::from(t.render(&vars, seq, &mut rng))
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(body)).expect("valid request");
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            sender = connect(addr).await; // first request, or the server closed it
        }
        let t0 = due.unwrap_or_else(Instant::now);
        if let (Some(d), Some(i)) = (due.as_mut(), interval) {
            *d += i;
        }
        let result = match sender.as_mut() {
            Some(s) => match async {
                s.ready().await?;
                s.send_request(req).await
            }
            .await
            {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    resp.into_body().collect().await.ok().map(|b| (status, b.to_bytes()))
                }
                Err(_) => None,
            },
            None => None,
        };
        let done = Instant::now();
        let measured = done >= sh.measure_from && sh.end.is_none_or(|e| done <= e);
        match result {
            None => {
                sender = None;
                st.transport_errors += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Some((status, body)) => {
                let ok = (200..300).contains(&status);
                if measured {
                    *st.status.entry(status).or_default() += 1;
                    st.lat_us.push(done.duration_since(t0).as_micros().min(u32::MAX as u128) as u32);
                    let since = t0.saturating_duration_since(sh.measure_from).as_micros();
                    st.start_us.push(since.min(u32::MAX as u128) as u32);
                }
                if !ok && st.first_error.is_none() {
                    let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
                    st.first_error = Some(format!("{status} {text}"));
                }
                if ok && measured && expect.is_some_and(|e| !body.windows(e.len()).any(|w| w == e)) {
                    st.unexpected += 1;
                    if st.first_error.is_none() {
                        let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
                        st.first_error = Some(format!("{status} (unexpected body) {text}"));
                    }
                }
                if ok
                    && cfg.save.is_some()
                    && let Some(id) = extract_id(&body)
                {
                    st.saved.push(if line.is_empty() { id } else { format!("{line}\t{id}") });
                }
            }
        }
    }
    st
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("realtime") {
        return realtime::main(std::env::args().skip(2));
    }
    let cfg = parse_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(cfg));
}

/// CPU clock ticks at one instant: server (summed over the PIDs), this driver, machine (busy
/// incl. steal, steal), aux process tree.
type Snapshot = (Option<u64>, Option<u64>, Option<(u64, u64)>, Option<u64>);
fn cpu_snapshot(pids: &[u32], aux: Option<u32>) -> Snapshot {
    let server = if pids.is_empty() { None } else { pids.iter().map(|&p| cpu_ticks(p)).sum() };
    (server, cpu_ticks(std::process::id()), machine_ticks(), aux.and_then(tree_ticks))
}

/// Summed VmRSS of the PIDs.
fn rss_sum(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() { None } else { pids.iter().map(|&p| rss_kb(p)).sum() }
}

async fn run(cfg: Config) {
    let measure_from = Instant::now() + Duration::from_secs_f64(cfg.warmup);
    let end = cfg.duration.map(|d| measure_from + Duration::from_secs_f64(d));
    let (pids, aux, clk, conns) = (cfg.pids.clone(), cfg.aux_pid, cfg.clk_tck, cfg.conns);
    let sh = Arc::new(Shared { cfg, seq: AtomicU64::new(0), measure_from, end });
    let rss_start = rss_sum(&pids);
    // RSS sampler: every 50 ms while the phase runs.
    let rss_max = Arc::new(AtomicU64::new(rss_start.unwrap_or(0)));
    let sampling = Arc::new(AtomicBool::new(true));
    if !pids.is_empty() {
        let (m, on, pids) = (rss_max.clone(), sampling.clone(), pids.clone());
        tokio::spawn(async move {
            while on.load(Ordering::Relaxed) {
                m.fetch_max(rss_sum(&pids).unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    let tasks: Vec<_> = (0..conns).map(|i| tokio::spawn(conn_loop(sh.clone(), i))).collect();
    // CPU over the measured window: [end of warm-up, end] or, for a fixed count, until done.
    tokio::time::sleep_until(measure_from.into()).await;
    let (t_measure, cpu0) = (Instant::now(), cpu_snapshot(&pids, aux));
    let mut cpu1 = None;
    if let Some(e) = end {
        tokio::time::sleep_until(e.into()).await;
        cpu1 = Some(cpu_snapshot(&pids, aux));
    }
    let mut stats = Vec::new();
    for t in tasks {
        stats.push(t.await.expect("connection task"));
    }
    let elapsed = sh.cfg.duration.unwrap_or_else(|| t_measure.elapsed().as_secs_f64());
    let cpu1 = cpu1.unwrap_or_else(|| cpu_snapshot(&pids, aux));
    sampling.store(false, Ordering::Relaxed);
    rss_max.fetch_max(rss_sum(&pids).unwrap_or(0), Ordering::Relaxed);

    let mut all = ConnStats::default();
    // The slowest requests with when they started: stalls that hit every connection at
    // once are the server's; one connection alone is more likely the machine's scheduling.
    let mut slowest: Vec<(u32, u32, usize)> = Vec::new();
    for (conn, s) in stats.iter().enumerate() {
        slowest.extend(s.lat_us.iter().zip(&s.start_us).map(|(&l, &t)| (l, t, conn)));
    }
    slowest.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
    slowest.truncate(20);
    for s in stats {
        all.lat_us.extend_from_slice(&s.lat_us);
        s.status.iter().for_each(|(k, v)| *all.status.entry(*k).or_default() += v);
        all.transport_errors += s.transport_errors;
        all.unexpected += s.unexpected;
        all.first_error = all.first_error.or(s.first_error);
        all.saved.extend(s.saved);
    }
    let lat = &mut all.lat_us;
    lat.sort_unstable();
    let count = lat.len() as u64;
    let ok: u64 = all.status.iter().filter(|(k, _)| (200..300).contains(*k)).map(|(_, v)| v).sum();
    let pct = |p: f64| match lat.len() {
        0 => 0.0,
        n => lat[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0,
    };
    let mean = lat.iter().map(|&x| x as f64).sum::<f64>() / (lat.len().max(1) as f64) / 1000.0;
    let secs = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| b.saturating_sub(a) as f64 / clk);
    let cpu_s = secs(cpu0.0, cpu1.0);
    let driver_cpu_s = secs(cpu0.1, cpu1.1);
    let busy_s = secs(cpu0.2.map(|m| m.0), cpu1.2.map(|m| m.0));
    let steal_s = secs(cpu0.2.map(|m| m.1), cpu1.2.map(|m| m.1));
    let aux_s = secs(cpu0.3, cpu1.3);
    // CPU used on the machine by neither the server (nor its aux tree) nor the driver: other
    // processes here (`other`) and other tenants of the host (`steal`).
    let other_s = match (busy_s, steal_s, cpu_s, driver_cpu_s) {
        (Some(b), Some(st), Some(c), Some(d)) => Some((b - st - c - d - aux_s.unwrap_or(0.0)).max(0.0)),
        _ => None,
    };
    let per_req = |c: f64| (c * 1e3 / (count.max(1) as f64) * 1e4).round() / 1e4;
    if let Some(path) = &sh.cfg.save {
        std::fs::write(path, all.saved.join("\n") + "\n").expect("write --save file");
    }
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let out = serde_json::json!({
        "count": count,
        "ok": ok,
        "errors": count - ok + all.transport_errors,
        "transport_errors": all.transport_errors,
        "unexpected": all.unexpected,
        "status": all.status.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        "seconds": r3(elapsed),
        "rps": r3(ok as f64 / elapsed.max(1e-9)),
        "mean_ms": r3(mean),
        "p50_ms": pct(50.0),
        "p90_ms": pct(90.0),
        "p99_ms": pct(99.0),
        "max_ms": pct(100.0),
        "conns": conns,
        "server_cpu_s": cpu_s.map(r3),
        "server_cpu_ms_per_req": cpu_s.map(per_req),
        "aux_cpu_s": aux_s.map(r3),
        "aux_cpu_ms_per_req": aux_s.map(per_req),
        "nodes": sh.cfg.addrs.len(),
        "driver_cpu_s": driver_cpu_s.map(r3),
        "machine_busy_s": busy_s.map(r3),
        "steal_s": steal_s.map(r3),
        "other_cpu_s": other_s.map(r3),
        "rss_start_kb": rss_start,
        "rss_max_kb": rss_start.map(|_| rss_max.load(Ordering::Relaxed)),
        "first_error": all.first_error,
        "measure_from_unix_ms": (std::time::SystemTime::now() - measure_from.elapsed())
            .duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
        "slowest": slowest.iter().map(|&(l, t, c)| serde_json::json!({
            "ms": l as f64 / 1000.0, "at_ms": t as f64 / 1000.0, "conn": c,
        })).collect::<Vec<_>>(),
    });
    println!("{out}");
}
