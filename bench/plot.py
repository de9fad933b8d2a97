#!/usr/bin/env python3
"""Chart of a bench/run results file: plot.py RESULTS.json OUT.png

Left: kulisse / PocketBase throughput per phase (PocketBase = 1), with the issue #5 target
marked, kulisse on PostgreSQL / PocketBase, and the bare hyper+SQLite ceiling / PocketBase
where a ceiling exists.
Middle: absolute requests per second per server (log scale).
Right (when the run has it): 1 vs 2 kulisse nodes on one PostgreSQL database, total req/s.
"""
import subprocess
import sys

try:
    import matplotlib
except ImportError:  # installed on demand, like bench/run's other tools
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"])
    import matplotlib

matplotlib.use("Agg")
import json  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing report.py
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from report import CEILING_OF, NODE_PHASES, PHASES, rps  # noqa: E402

TARGET = {"view": 4.5, "list": 9, "list_skiptotal": 9, "list_expand": 9, "create": 4}
COLORS = {"kulisse": "#d9534f", "kulisse-pg": "#8e44ad", "pocketbase": "#5b8def", "ceiling": "#7f7f7f"}


def pg_note(res):
    pg = res.get("postgres")
    if not pg:
        return ""
    return (f", kulisse-pg on PostgreSQL {str(pg.get('server_version', '')).split(' ')[0]} "
            f"(fsync={pg.get('fsync')}, synchronous_commit={pg.get('synchronous_commit')}, same cores)")


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as f:
        res = json.load(f)
    labels = [label.replace(" (", "\n(") for _, label in PHASES]
    nodes = res.get("nodes")
    if nodes:
        fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(19, 6.5), gridspec_kw={"width_ratios": [1, 1.2, 0.45]})
    else:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [1, 1.2]})

    ys = list(range(len(PHASES)))[::-1]
    for y, (p, _) in zip(ys, PHASES):
        r = res["ratios"].get(p, {})
        k = r.get("kulisse_vs_pocketbase")
        state = res["servers"].get("kulisse", {}).get("phases", {}).get(p, {}).get("state", "missing")
        h = 0.2
        if k is not None:
            ax.barh(y + 1.5 * h, k, height=h, color=COLORS["kulisse"],
                    label="kulisse / PocketBase, req/s" if y == ys[0] else None)
            ax.text(k, y + 1.5 * h, f" {k:.2f}x", va="center", fontsize=7)
        else:
            ax.text(1.02, y + 1.5 * h, f"kulisse: {state}", va="center", fontsize=8, color=COLORS["kulisse"])
        cr = r.get("cpu_pocketbase_vs_kulisse")
        if cr is not None:
            ax.barh(y + 0.5 * h, cr, height=h, color=COLORS["kulisse"], alpha=0.35,
                    label="PocketBase / kulisse, server CPU per request" if y == ys[0] else None)
            ax.text(cr, y + 0.5 * h, f" {cr:.2f}x", va="center", fontsize=7, color="#a33")
        if "kulisse-pg" in res["servers"]:
            kp = r.get("kulisse_pg_vs_pocketbase")
            if kp is not None:
                ax.barh(y - 0.5 * h, kp, height=h, color=COLORS["kulisse-pg"],
                        label="kulisse on PostgreSQL / PocketBase, req/s" if y == ys[0] else None)
                ax.text(kp, y - 0.5 * h, f" {kp:.2f}x", va="center", fontsize=7, color=COLORS["kulisse-pg"])
            else:
                st = res["servers"]["kulisse-pg"].get("phases", {}).get(p, {}).get("state", "missing")
                ax.text(1.02, y - 0.5 * h, f"kulisse-pg: {st}", va="center", fontsize=8, color=COLORS["kulisse-pg"])
        c = r.get("pocketbase_vs_ceiling")
        if p in ("view", "health") and c:
            ax.barh(y - 1.5 * h, 1 / c, height=h, color=COLORS["ceiling"], hatch="//", alpha=0.6,
                    label="bare hyper+SQLite / PocketBase, req/s" if p == "view" else None)
            ax.text(1 / c, y - 1.5 * h, f" {1 / c:.2f}x", va="center", fontsize=7, color="#555")
        if p in TARGET:
            ax.plot([TARGET[p]] * 2, [y - 0.42, y + 0.42], color="black", lw=2,
                    label="issue #5 target" if p == "view" else None)
    ax.axvline(1, color=COLORS["pocketbase"], ls="--", lw=1, label="PocketBase = 1")
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("throughput relative to PocketBase (log)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    ax.set_title("kulisse vs PocketBase, same run", fontsize=11)

    servers = [s for s in ("kulisse", "kulisse-pg", "pocketbase", "ceiling") if s in res["servers"]]
    w = 0.8 / max(len(servers), 1)
    for i, s in enumerate(servers):
        for y, (p, _) in zip(ys, PHASES):
            q = CEILING_OF.get(p) if s == "ceiling" else p
            if s == "ceiling" and (p not in CEILING_OF or p == "auth_view"):
                continue
            v = rps(res, s, q) if q else None
            if v:
                ax2.barh(y + 0.4 - w * (i + 0.5), v, height=w, color=COLORS[s])
    ax2.set_yticks(ys, labels, fontsize=8)
    ax2.set_xscale("log")
    ax2.set_xlabel("requests (or records) per second, log")
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[s]) for s in servers]
    ax2.legend(handles, servers, fontsize=8, loc="upper right")
    ax2.set_title("absolute throughput", fontsize=11)

    if nodes:
        x = 0
        for p, label in NODE_PHASES:
            for n, alpha in (("1", 1.0), ("2", 0.5)):
                r = nodes.get(p, {}).get(n)
                v = r["rps"] if r and r.get("state") in ("ok", "partial") else 0
                ax3.bar(x, v, color=COLORS["kulisse-pg"], alpha=alpha,
                        label=f"{n} node{'s' if n == '2' else ''}" if p == NODE_PHASES[0][0] else None)
                ax3.text(x, v, f"{v:,.0f}" if v else (r or {}).get("state", "missing"),
                         ha="center", va="bottom", fontsize=7)
                x += 1
            x += 0.5
        ax3.set_xticks([0.5, 3.0], [label.replace(" (", "\n(") for _, label in NODE_PHASES], fontsize=8)
        ax3.set_ylabel("total requests per second", fontsize=8)
        ax3.legend(fontsize=8)
        ax3.set_title("kulisse on one PostgreSQL:\n1 vs 2 nodes, same clients", fontsize=10)

    fig.suptitle(f"bench/run {res.get('mode')} {res.get('stamp')} — {res.get('nproc')} cores "
                 f"{res.get('cpu')}, driver on the same cores, PocketBase {res.get('pocketbase_version')} "
                 f"(request log off)" + pg_note(res), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"chart: {out}")


if __name__ == "__main__":
    main()
