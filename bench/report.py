#!/usr/bin/env python3
"""Assembles a bench/run work dir into one results JSON and prints the table.

    report.py WORK_DIR OUT.json ELAPSED_S   (called by bench/run)
    report.py --markdown RESULTS.json       markdown tables, for docs/benchmarks.md
    report.py --table RESULTS.json          the terminal table again
    report.py --rebuild RESULTS.json        recompute ratios and targets in place
"""
import json
import os
import sys

SERVERS = ["kulisse", "kulisse-nolog", "kulisse-pg", "pocketbase", "ceiling"]
PHASES = [
    ("create", "bulk create (16 clients)"),
    ("view", "view by id (64)"),
    ("list", "filtered list + total (16)"),
    ("list_skiptotal", "filtered list, skipTotal (16)"),
    ("list_relation", "relation filter list (16)"),
    ("list_expand", "filtered list + expand (16)"),
    ("auth_view", "view, token + owner rule (64)"),
    ("auth_list", "list, token + owner rule (16)"),
    ("auth_password", "auth-with-password (16)"),
    ("health", "GET /api/health (64)"),
    ("file_download", "download 50 KB image (64)"),
    ("thumb_first", "thumb 100x100, first time (8)"),
    ("thumb_cached", "thumb 100x100, cached (64)"),
    ("file_upload", "upload 1 MB file (8)"),
    ("upload_rss", "16 uploads of 20 MB at once (16)"),
]
LIST_PHASES = ["list", "list_skiptotal", "list_relation", "list_expand", "auth_list"]
# The ceiling server's counterpart of a phase.
CEILING_OF = {"view": "view", "auth_view": "view", "health": "health"}
# 1 vs 2 kulisse nodes on one PostgreSQL database (bench/run's last part).
NODE_PHASES = [("view", "view by id (64)"), ("create", "create (16)")]
# The realtime phase's runs (bench-driver realtime): realtime_<N>, realtime_owner_<N>,
# realtime_idle_<N>, one JSON each per server.
RT_SERVERS = ["kulisse", "kulisse-pg", "pocketbase"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def classify(r):
    """ok / partial / failed / skipped, from the driver's counts."""
    if r is None:
        return "missing"
    if r.get("skipped"):
        return "skipped"
    if r.get("crashed"):
        return "failed"
    count, ok, unexpected = r.get("count", 0), r.get("ok", 0), r.get("unexpected", 0)
    good = ok - unexpected
    if count == 0 or good <= 0 or good < 0.5 * count:
        return "failed"
    bad = count - good + r.get("transport_errors", 0)
    if bad > 0.001 * (count + r.get("transport_errors", 0)):
        return "partial"
    return "ok"


def assemble(work, elapsed):
    res = load(os.path.join(work, "meta.json")) or {}
    res["elapsed_s"] = elapsed
    res["servers"] = {}
    for s in SERVERS:
        d = os.path.join(work, s)
        if not os.path.isdir(d):
            continue
        srv = {"phases": {}}
        srv.update(load(os.path.join(d, "idle.json")) or {})
        srv.update(load(os.path.join(d, "idle_after.json")) or {})
        srv.update(load(os.path.join(d, "disk.json")) or {})
        for p, _ in PHASES:
            r = load(os.path.join(d, p + ".json"))
            if r is None:
                continue
            r["state"] = classify(r)
            srv["phases"][p] = r
        for f in sorted(os.listdir(d)):
            if f.startswith("realtime_") and f.endswith(".json"):
                r = load(os.path.join(d, f))
                if r is not None:
                    r["state"] = rt_classify(r)
                    srv.setdefault("realtime", {})[f[:-5]] = r
        res["servers"][s] = srv
    pg = load(os.path.join(work, "kulisse-pg", "postgres.json"))
    if pg:
        res["postgres"] = pg
    nodes = {}
    for p, _ in NODE_PHASES:
        for n in ("1", "2"):
            r = load(os.path.join(work, "nodes", f"{p}_{n}.json"))
            if r is not None:
                r["state"] = classify(r)
                nodes.setdefault(p, {})[n] = r
    if nodes:
        res["nodes"] = nodes
    res["ratios"] = ratios(res)
    res["targets"] = targets(res)
    res["rt_targets"] = rt_targets(res)
    return res


# ---------------------------------------------------------------- realtime (issue #14)

def rt_classify(r):
    """ok / partial (losses, failed subscribers, dropped streams) / failed."""
    if r.get("skipped"):
        return "skipped"
    if r.get("crashed") or not r.get("subscribed"):
        return "failed"
    bad = (r.get("lost", 0) or r.get("subscribe_errors", 0) or r.get("dropped_streams", 0)
           or r.get("creates_ok", 0) < r.get("creates", 0))
    return "partial" if bad else "ok"


def rt_key(name):
    """Order: delivery runs by N, then the owner-rule runs, then the idle runs."""
    kind, _, n = name[len("realtime_"):].rpartition("_")
    try:
        n = int(n)
    except ValueError:
        n = 0
    return ({"": 0, "owner": 1, "idle": 2}.get(kind, 3), n, name)


def rt_runs(res):
    names = {n for s in res["servers"].values() for n in s.get("realtime", {})}
    return sorted(names, key=rt_key)


def rt_get(res, server, name):
    r = res["servers"].get(server, {}).get("realtime", {}).get(name)
    return r if r and r["state"] in ("ok", "partial") else None


def rt_title(res, name):
    r = next((s["realtime"][name] for s in res["servers"].values() if name in s.get("realtime", {})), {})
    n = r.get("subscribers", "?")
    if name.startswith("realtime_idle_"):
        return f"{n} idle subscribers"
    rule = "owner rule, " if r.get("rule") == "owner" else ""
    return f"{rule}{n} subscribers x {r.get('creates', '?')} creates at {r.get('rate', 0):g}/s"


def rt_metrics(name):
    """(label, getter -> value or None, format, lower is better) of a run's table rows."""
    def g(*keys):
        def get(r):
            for k in keys:
                r = r.get(k) if isinstance(r, dict) else None
            return r
        return get
    idle = name.startswith("realtime_idle_")
    mb = lambda v: v / 1024
    rows = [("subscribed", lambda r: f"{r['subscribed']}/{r['subscribers']}", None, False)]
    if not idle:
        rows += [
            ("delivered / expected", lambda r: f"{r['delivered']}/{r['expected']}", None, False),
            ("lost / out of order / duplicate / hidden",
             lambda r: f"{r['lost']}/{r['out_of_order']}/{r['duplicates']}/{r.get('unexpected', 0)}", None, False),
            ("delivery p50 ms", g("delivery", "p50_ms"), "{:.2f}", True),
            ("delivery p99 ms", g("delivery", "p99_ms"), "{:.2f}", True),
            ("reach all p50 ms", g("reach_all", "p50_ms"), "{:.2f}", True),
            ("reach all p99 ms", g("reach_all", "p99_ms"), "{:.2f}", True),
            ("create p50 ms, no subscribers", g("create_no_subscribers", "p50_ms"), "{:.2f}", True),
            ("create p50 ms, with subscribers", g("create_with_subscribers", "p50_ms"), "{:.2f}", True),
            ("create p50 with/without", g("create_p50_ratio"), "{:.2f}x", False),
            ("server CPU us per delivery", g("cpu_us_per_delivery"), "{:.1f}", True),
            ("  minus the creates' own CPU", g("cpu_us_per_delivery_net"), "{:.1f}", True),
        ]
    # Per idle subscriber only where the run came first or is the idle run: after a larger
    # run, the allocator's kept memory is reused and the difference means little.
    if idle:
        rows.append(("RSS KB per idle subscriber", g("rss_per_subscriber_kb"), "{:.1f}", True))
    rows.append(("RSS MB with the subscribers idle", lambda r: r.get("rss_idle_kb") and mb(r["rss_idle_kb"]),
                 "{:.0f}", True))
    return rows


def rt_head(res):
    srv = [s for s in RT_SERVERS if any(n in res["servers"].get(s, {}).get("realtime", {}) for n in rt_runs(res))]
    return srv, ["realtime (issue #14)"] + srv + (["PB/kulisse"] if "pocketbase" in srv and "kulisse" in srv else [])


def rt_rows(res):
    srv, head = rt_head(res)
    out = []
    for name in rt_runs(res):
        out.append([rt_title(res, name)] + [""] * (len(head) - 1))
        for label, get, fmt, lower in rt_metrics(name):
            vals, cells = {}, []
            for s in srv:
                r = res["servers"].get(s, {}).get("realtime", {}).get(name)
                if r is None:
                    cells.append("-")
                    continue
                if r["state"] in ("failed", "skipped"):
                    cells.append(r["state"].upper())
                    continue
                try:
                    v = get(r)
                except (KeyError, TypeError):
                    v = None
                vals[s] = v
                cells.append("-" if v is None else (fmt.format(v) if fmt else str(v)) + ("*" if r["state"] == "partial" else ""))
            row = ["  " + label] + cells
            if len(head) > len(srv) + 1:
                k, pb = vals.get("kulisse"), vals.get("pocketbase")
                ok = fmt and lower and isinstance(k, (int, float)) and isinstance(pb, (int, float)) and k > 0 and pb > 0
                row.append(f"{pb / k:.2f}x" if ok else "")
            out.append(row)
    return out


def rt_targets(res):
    """Issue #14's realtime targets, on kulisse (SQLite)."""
    runs = res["servers"].get("kulisse", {}).get("realtime", {})
    ok = {n: r for n, r in runs.items() if r["state"] in ("ok", "partial")}
    t = []

    def add(name, want, value, met, unit="", note=""):
        t.append({"target": name + note, "want": want, "value": value, "unit": unit, "met": met})

    def largest(kind):
        c = [(r.get("subscribers", 0), n) for n, r in ok.items() if rt_key(n)[0] == kind]
        return ok[max(c)[1]] if c else None

    idle, deliv, owner = largest(2), largest(0), largest(1)
    mem = idle or deliv
    v = mem.get("rss_per_subscriber_kb") if mem else None
    add("RSS per idle subscriber", "<= 10 KB", v, None if v is None else v <= 10, "KB",
        f" (at {mem['subscribers']})" if mem else "")
    v = idle.get("rss_idle_kb") if idle else None
    n = idle.get("subscribers", 0) if idle else 0
    add("10,000 idle subscribers, total RSS", "< 120 MB", round(v / 1024, 1) if v else None,
        None if not v or n < 10000 else v / 1024 < 120, "MB", f" (measured at {n})" if idle and n != 10000 else "")
    r3k = ok.get("realtime_3000") or deliv
    v = r3k.get("delivery", {}).get("p99_ms") if r3k else None
    n = r3k.get("subscribers", 0) if r3k else 0
    add("delivery p99 at 3,000 subscribers", "<= 20 ms", v, None if v is None or n < 3000 else v <= 20, "ms",
        f" (measured at {n})" if r3k and n != 3000 else "")
    v = deliv.get("cpu_us_per_delivery") if deliv else None
    add("server CPU per delivered event, empty rule", "<= 5 us", v, None if v is None else v <= 5, "us",
        f" (at {deliv['subscribers']})" if deliv else "")
    v = owner.get("cpu_us_per_delivery") if owner else None
    add("server CPU per delivered event, owner rule", "<= 10 us", v, None if v is None else v <= 10, "us",
        f" (at {owner['subscribers']})" if owner else "")
    v = deliv.get("create_p50_ratio") if deliv else None
    add("create p50 with subscribers / without", "<= 1.10", v, None if v is None else v <= 1.10, "x",
        f" (at {deliv['subscribers']})" if deliv else "")
    bad = [r.get("lost", 0) + r.get("out_of_order", 0) + r.get("duplicates", 0) + r.get("unexpected", 0)
           for r in runs.values() if r["state"] != "failed" and not r.get("crashed")]
    add("lost + out-of-order + duplicate + hidden deliveries", "0", sum(bad) if bad else None,
        None if not bad else sum(bad) == 0)
    return t


def rt_failures(res):
    out = []
    for s, srv in res["servers"].items():
        for n, r in srv.get("realtime", {}).items():
            if r["state"] != "ok":
                err = (r.get("first_error") or "").replace("\n", " ")[:200]
                out.append(f"{s}/{n}: {r['state']} (subscribed {r.get('subscribed')}/{r.get('subscribers')}, "
                           f"lost {r.get('lost')}, dropped {r.get('dropped_streams')}): {err}")
    return out


def rps(res, server, phase):
    r = res["servers"].get(server, {}).get("phases", {}).get(phase)
    if r and r["state"] in ("ok", "partial"):
        return r["rps"]
    return None


def cpu_per_req(res, server, phase, aux=False):
    """Server CPU ms per request; with aux, plus its database's (kulisse-pg: PostgreSQL's)."""
    r = res["servers"].get(server, {}).get("phases", {}).get(phase)
    if r and r["state"] in ("ok", "partial"):
        c = r.get("server_cpu_ms_per_req")
        if aux and c is not None and r.get("aux_cpu_ms_per_req") is not None:
            c += r["aux_cpu_ms_per_req"]
        return c
    return None


def ratios(res):
    out = {}
    for p, _ in PHASES:
        k, pb, kp = rps(res, "kulisse", p), rps(res, "pocketbase", p), rps(res, "kulisse-pg", p)
        kn = rps(res, "kulisse-nolog", p)
        c = rps(res, "ceiling", CEILING_OF[p]) if p in CEILING_OF else None
        kc, pc = cpu_per_req(res, "kulisse", p), cpu_per_req(res, "pocketbase", p)
        kpc = cpu_per_req(res, "kulisse-pg", p, aux=True)
        out[p] = {
            "kulisse_vs_pocketbase": round(k / pb, 3) if k and pb else None,
            # server CPU per request, PocketBase's over kulisse's: less sensitive to other load
            # on the machine than throughput
            "cpu_pocketbase_vs_kulisse": round(pc / kc, 3) if kc and pc else None,
            "kulisse_vs_ceiling": round(k / c, 3) if k and c else None,
            "pocketbase_vs_ceiling": round(pb / c, 3) if pb and c else None,
            "kulisse_pg_vs_pocketbase": round(kp / pb, 3) if kp and pb else None,
            "kulisse_pg_vs_kulisse": round(kp / k, 3) if kp and k else None,
            # kulisse-pg's CPU includes PostgreSQL's (postmaster and backends)
            "cpu_pocketbase_vs_kulisse_pg": round(pc / kpc, 3) if kpc and pc else None,
            # the request log on (kulisse) against off (kulisse-nolog), same build and data
            "kulisse_log_on_vs_off": round(k / kn, 3) if k and kn else None,
        }
    return out


def targets(res):
    ks = res["servers"].get("kulisse", {})
    kp = ks.get("phases", {})
    rt = res["ratios"]
    t = []

    def add(name, want, value, met, unit=""):
        t.append({"target": name, "want": want, "value": value, "unit": unit, "met": met})

    def ratio_target(phase, key, want, label):
        v = rt.get(phase, {}).get(key)
        state = kp.get(phase, {}).get("state", "missing")
        add(label, f">= {want}", v, None if v is None and state == "missing" else (v is not None and v >= want), "x")

    ratio_target("view", "kulisse_vs_pocketbase", 4.5, "view by id vs PocketBase")
    ratio_target("view", "kulisse_vs_ceiling", 0.75, "view by id vs bare hyper+SQLite")
    if "kulisse-nolog" in res["servers"]:
        ratio_target("view", "kulisse_log_on_vs_off", 0.95, "view with the request log on vs off")
    dropped = ks.get("log_dropped")
    if dropped is not None:
        add("request-log entries dropped in the run (no idle CPU left)", "(for information)", dropped, None)
    v = kp.get("view")
    add("view p99 at 64 clients", "< 3 ms", v.get("p99_ms") if v and v["state"] != "failed" else None,
        bool(v and v["state"] in ("ok", "partial") and v["p99_ms"] < 3), "ms")
    a, b = rps(res, "kulisse", "auth_view"), rps(res, "kulisse", "view")
    add("view with token + owner rule vs anonymous view", ">= 0.85",
        round(a / b, 3) if a and b else None, bool(a and b and a / b >= 0.85), "x")
    ratio_target("list", "kulisse_vs_pocketbase", 9, "filtered list with total vs PocketBase")
    ratio_target("list_skiptotal", "kulisse_vs_pocketbase", 9, "filtered list skipTotal vs PocketBase")
    ratio_target("list_expand", "kulisse_vs_pocketbase", 9, "filtered list expand=author vs PocketBase")
    ratio_target("create", "kulisse_vs_pocketbase", 4, "bulk create vs PocketBase")
    ratio_target("health", "kulisse_vs_ceiling", 0.70, "/api/health vs bare fixed JSON")
    ratio_target("file_download", "kulisse_vs_pocketbase", 3, "download of a 50 KB image vs PocketBase")
    ratio_target("thumb_first", "kulisse_vs_pocketbase", 1.5, "thumb, first generation vs PocketBase")
    ratio_target("thumb_cached", "kulisse_vs_pocketbase", 3, "thumb, cached vs PocketBase")
    ratio_target("file_upload", "kulisse_vs_pocketbase", 2, "upload of 1 MB files vs PocketBase")

    def upload_growth(server):
        u = res["servers"].get(server, {}).get("phases", {}).get("upload_rss")
        if not u or u["state"] not in ("ok", "partial") or not u.get("rss_start_kb"):
            return None
        return round((u["rss_max_kb"] - u["rss_start_kb"]) / 1024, 1)
    g = upload_growth("kulisse")
    add("RSS growth during 16 uploads of 20 MB", "<= 64 MB", g, None if g is None else g <= 64, "MB")
    g = upload_growth("pocketbase")
    add("PocketBase's RSS growth, the same uploads", "(for comparison)", g, None, "MB")
    idle = ks.get("rss_idle_kb")
    add("idle RSS", "<= 15 MB", round(idle / 1024, 1) if idle else None, bool(idle and idle <= 15 * 1024), "MB")
    for label, phases, limit in (("RSS during view and create", ["view", "create", "auth_view"], 64),
                                 ("RSS during list phases", LIST_PHASES, 128)):
        vals = [kp[p]["rss_max_kb"] for p in phases if p in kp and kp[p].get("rss_max_kb")]
        m = max(vals) / 1024 if vals else None
        add(label, f"<= {limit} MB", round(m, 1) if m else None, bool(m and m <= limit), "MB")
    if "kulisse" not in res["servers"]:
        for x in t:
            x["met"] = None
    return t


def fmt_rps(r):
    if r is None:
        return "-"
    if r["state"] in ("failed", "skipped", "missing"):
        return r["state"].upper()
    s = f"{r['rps']:,.0f}"
    return s + ("*" if r["state"] == "partial" else "")


def fmt_lat(r):
    if r is None or r["state"] not in ("ok", "partial"):
        return "-"
    return f"{r['p50_ms']:.2f}/{r['p99_ms']:.2f}"


def fmt_x(v):
    return "-" if v is None else f"{v:.2f}x"


def has_pg(res):
    return "kulisse-pg" in res["servers"]


def has_nolog(res):
    return "kulisse-nolog" in res["servers"]


def rows(res):
    """Main table rows: phase, kulisse req/s, p50/p99, [kulisse-pg req/s, p50/p99], PB req/s,
    p50/p99, k/PB, PB/k CPU, [kulisse-pg/PB, kulisse-pg/kulisse], ceiling, k/ceiling."""
    out = []
    for p, label in PHASES:
        k = res["servers"].get("kulisse", {}).get("phases", {}).get(p)
        kp = res["servers"].get("kulisse-pg", {}).get("phases", {}).get(p)
        pb = res["servers"].get("pocketbase", {}).get("phases", {}).get(p)
        c = res["servers"].get("ceiling", {}).get("phases", {}).get(CEILING_OF.get(p, ""))
        r = res["ratios"][p]
        pg = [fmt_rps(kp), fmt_lat(kp)] if has_pg(res) else []
        pg_x = [fmt_x(r.get("kulisse_pg_vs_pocketbase")), fmt_x(r.get("kulisse_pg_vs_kulisse"))] if has_pg(res) else []
        kn = res["servers"].get("kulisse-nolog", {}).get("phases", {}).get(p)
        nolog = [fmt_rps(kn) if kn else "", fmt_x(r.get("kulisse_log_on_vs_off")) if kn else ""] if has_nolog(res) else []
        out.append([label, fmt_rps(k), fmt_lat(k)] + nolog + pg + [fmt_rps(pb), fmt_lat(pb),
                    fmt_x(r["kulisse_vs_pocketbase"]), fmt_x(r.get("cpu_pocketbase_vs_kulisse"))] + pg_x +
                   [fmt_rps(c) if c else "", fmt_x(r["kulisse_vs_ceiling"]) if c else ""])
    return out


def head(res):
    pg = ["kulisse-pg req/s", "p50/p99 ms"] if has_pg(res) else []
    pg_x = ["kulisse-pg/PB", "kulisse-pg/kulisse"] if has_pg(res) else []
    nolog = ["kulisse log off req/s", "log on/off"] if has_nolog(res) else []
    return (["phase (clients)", "kulisse req/s", "p50/p99 ms"] + nolog + pg + ["PocketBase req/s", "p50/p99 ms",
            "kulisse/PB", "PB/kulisse CPU per req"] + pg_x + ["ceiling req/s", "kulisse/ceiling"])


def res_rows(res):
    """Resources: server CPU ms per request and max RSS per phase."""
    out = []

    def cpu(s, p, key="server_cpu_ms_per_req"):
        r = res["servers"].get(s, {}).get("phases", {}).get(p)
        v = r.get(key) if r and r.get("state") in ("ok", "partial") else None
        return "-" if v is None else f"{v:.4f}"

    def rss(s, p):
        r = res["servers"].get(s, {}).get("phases", {}).get(p)
        v = r.get("rss_max_kb") if r else None
        return "-" if not v else f"{v / 1024:.0f}"

    def other(s, p):
        r = res["servers"].get(s, {}).get("phases", {}).get(p)
        if not r or r.get("other_cpu_s") is None or not r.get("seconds"):
            return "-"
        return f"{(r['other_cpu_s'] + r.get('steal_s', 0)) / r['seconds']:.2f}"

    pg = has_pg(res)
    for p, label in PHASES:
        c = CEILING_OF.get(p) if p in ("view", "health") else None
        out.append([label, cpu("kulisse", p)]
                   + ([cpu("kulisse-pg", p), cpu("kulisse-pg", p, "aux_cpu_ms_per_req")] if pg else [])
                   + [cpu("pocketbase", p), cpu("ceiling", c) if c else "", rss("kulisse", p)]
                   + ([rss("kulisse-pg", p)] if pg else [])
                   + [rss("pocketbase", p), rss("ceiling", c) if c else "", other("kulisse", p)]
                   + ([other("kulisse-pg", p)] if pg else [])
                   + [other("pocketbase", p), other("ceiling", c) if c else ""])
    mb = lambda v: "-" if not v else f"{v / 1024:.0f}"
    srv = ["kulisse"] + (["kulisse-pg"] if pg else []) + ["pocketbase", "ceiling"]
    blank = [""] * (4 + (2 if pg else 0))
    for label, key in (("idle, fresh start", "rss_idle_kb"), ("idle, after the run", "rss_idle_after_kb")):
        out.append([label] + blank[1:] + [mb(res["servers"].get(s, {}).get(key)) for s in srv]
                   + [""] * len(srv))
    disk = [res["servers"].get(s, {}).get("data_dir_kb") for s in srv]
    out.append(["data on disk (MB)"] + blank[1:] + [mb(v) for v in disk] + [""] * len(srv))
    return out


def res_head(res):
    pg = has_pg(res)
    return (["phase", "kulisse CPU ms/req"] + (["kulisse-pg CPU ms/req", "its PostgreSQL CPU ms/req"] if pg else [])
            + ["PB CPU ms/req", "ceiling CPU ms/req", "kulisse RSS MB"] + (["kulisse-pg RSS MB"] if pg else [])
            + ["PB RSS MB", "ceiling RSS MB", "other load k"] + (["other load k-pg"] if pg else [])
            + ["other load PB", "other load ceil"])


def node_rows(res):
    """1 vs 2 kulisse nodes on one PostgreSQL: total req/s, latency, CPU per request."""
    out = []
    for p, label in NODE_PHASES:
        d = res.get("nodes", {}).get(p, {})
        one, two = d.get("1"), d.get("2")
        a = one["rps"] if one and one["state"] in ("ok", "partial") else None
        b = two["rps"] if two and two["state"] in ("ok", "partial") else None

        def cpu(r, key):
            v = r.get(key) if r and r["state"] in ("ok", "partial") else None
            return "-" if v is None else f"{v:.4f}"

        def other(r):
            if not r or r.get("other_cpu_s") is None or not r.get("seconds"):
                return "-"
            return f"{(r['other_cpu_s'] + r.get('steal_s', 0)) / r['seconds']:.2f}"

        out.append([label, fmt_rps(one), fmt_lat(one), fmt_rps(two), fmt_lat(two),
                    fmt_x(round(b / a, 3) if a and b else None),
                    cpu(one, "server_cpu_ms_per_req") + " / " + cpu(two, "server_cpu_ms_per_req"),
                    cpu(one, "aux_cpu_ms_per_req") + " / " + cpu(two, "aux_cpu_ms_per_req"),
                    other(one) + " / " + other(two)])
    return out


NODE_HEAD = ["PostgreSQL, one database", "1 node req/s", "p50/p99 ms", "2 nodes req/s", "p50/p99 ms",
             "2 nodes/1 node", "kulisse CPU ms/req 1/2", "PostgreSQL CPU ms/req 1/2", "other load 1/2"]


def text_table(head, body):
    w = [max(len(str(r[i])) for r in [head] + body) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]) for i, c in enumerate(r))
    return "\n".join([line(head), "  ".join("-" * x for x in w)] + [line(r) for r in body])


def md_table(head, body):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(out)


def target_rows(res, key="targets"):
    out = []
    for t in res.get(key, []):
        v = t["value"]
        val = "-" if v is None else f"{v}{'x' if t['unit'] == 'x' else ' ' + t['unit']}"
        met = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
        out.append([t["target"], t["want"], val, met])
    return out


def all_runs(res):
    """(server, phase, driver result) of every measured phase, the 1/2-node ones included."""
    runs = [(s, p, r) for s, srv in res["servers"].items() for p, r in srv["phases"].items()]
    runs += [(f"{n}-node{'s' if n == '2' else ''}", p, r)
             for p, d in res.get("nodes", {}).items() for n, r in d.items()]
    return runs


def failures(res):
    out = []
    for s, p, r in all_runs(res):
        if r["state"] != "ok" or r.get("errors"):
            err = (r.get("first_error") or "").replace("\n", " ")[:200]
            out.append(f"{s}/{p}: {r['state']} (status {r.get('status', {})}, "
                       f"unexpected {r.get('unexpected', 0)}): {err}")
    return out


def noise(res, limit=0.25):
    out = []
    for s, p, r in all_runs(res):
        if r.get("other_cpu_s") is not None and r.get("seconds"):
            load = (r["other_cpu_s"] + r.get("steal_s", 0)) / r["seconds"]
            if load > limit:
                out.append(f"{s}/{p} {load:.2f}")
    return out


def print_text(res):
    print(f"\nbench/run {res.get('mode')} {res.get('stamp')}: {res.get('nproc')} cores {res.get('cpu')}, "
          f"kernel {res.get('kernel')}, PocketBase {res.get('pocketbase_version')}, "
          f"kulisse {res.get('kulisse_commit')}, {res.get('elapsed_s')} s\n")
    print(text_table(head(res), rows(res)))
    print("\n" + text_table(res_head(res), res_rows(res)))
    if res.get("nodes"):
        print("\n" + text_table(NODE_HEAD, node_rows(res)))
    if res.get("postgres"):
        print("\nPostgreSQL: " + ", ".join(f"{k}={v}" for k, v in sorted(res["postgres"].items())))
    print("\n" + text_table(["issue #5 target", "want", "kulisse", ""], target_rows(res)))
    if rt_runs(res):
        print("\n" + text_table(rt_head(res)[1], rt_rows(res)))
        print("\n" + text_table(["issue #14 realtime target", "want", "kulisse", ""], target_rows(res, "rt_targets")))
    noisy = noise(res)
    if noisy:
        print("\nother load on the machine (cores busy with neither server nor driver, incl. steal) > 0.25:")
        print("  " + ", ".join(noisy))
    f = failures(res) + rt_failures(res)
    if f:
        print("\nphases not fully ok (* = partial):")
        for line in f:
            print("  " + line)
    print()


def print_md(res):
    print(md_table(head(res), rows(res)))
    print()
    print(md_table(res_head(res), res_rows(res)))
    print()
    if res.get("nodes"):
        print(md_table(NODE_HEAD, node_rows(res)))
        print()
    print(md_table(["issue #5 target", "want", "kulisse", "result"], target_rows(res)))
    if rt_runs(res):
        print()
        print(md_table(rt_head(res)[1], rt_rows(res)))
        print()
        print(md_table(["issue #14 realtime target", "want", "kulisse", "result"], target_rows(res, "rt_targets")))
    f = failures(res) + rt_failures(res)
    if f:
        print()
        for line in f:
            print("- `" + line.replace("`", "'") + "`")


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "--rebuild":  # recompute the derived parts of a results file
        res = load(a[1])
        res["ratios"] = ratios(res)
        res["targets"] = targets(res)
        for srv in res["servers"].values():
            for r in srv.get("realtime", {}).values():
                r["state"] = rt_classify(r)
        res["rt_targets"] = rt_targets(res)
        with open(a[1], "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
        return
    if len(a) == 2 and a[0] in ("--markdown", "--table"):
        res = load(a[1])
        (print_md if a[0] == "--markdown" else print_text)(res)
        return
    if len(a) != 3:
        sys.exit(__doc__)
    res = assemble(a[0], int(a[2]))
    with open(a[1], "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print_text(res)


if __name__ == "__main__":
    main()
