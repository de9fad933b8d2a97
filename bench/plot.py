#!/usr/bin/env python3
"""Chart of a bench/run results file: plot.py RESULTS.json OUT.png

Left: kulisse / PocketBase throughput per phase (PocketBase = 1), with the issue #5 target
marked, and the bare hyper+SQLite ceiling / PocketBase where a ceiling exists.
Right: absolute requests per second per server (log scale).
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

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from report import CEILING_OF, PHASES, rps  # noqa: E402

TARGET = {"view": 4.5, "list": 9, "list_skiptotal": 9, "list_expand": 9, "create": 4}
COLORS = {"kulisse": "#d9534f", "pocketbase": "#5b8def", "ceiling": "#7f7f7f"}


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as f:
        res = json.load(f)
    labels = [label.replace(" (", "\n(") for _, label in PHASES]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [1, 1.2]})

    ys = list(range(len(PHASES)))[::-1]
    for y, (p, _) in zip(ys, PHASES):
        r = res["ratios"].get(p, {})
        k = r.get("kulisse_vs_pocketbase")
        state = res["servers"].get("kulisse", {}).get("phases", {}).get(p, {}).get("state", "missing")
        h = 0.26
        if k is not None:
            ax.barh(y + h, k, height=h, color=COLORS["kulisse"],
                    label="kulisse / PocketBase, req/s" if y == ys[0] else None)
            ax.text(k, y + h, f" {k:.2f}x", va="center", fontsize=7)
        else:
            ax.text(1.02, y + h, f"kulisse: {state}", va="center", fontsize=8, color=COLORS["kulisse"])
        cr = r.get("cpu_pocketbase_vs_kulisse")
        if cr is not None:
            ax.barh(y, cr, height=h, color=COLORS["kulisse"], alpha=0.35,
                    label="PocketBase / kulisse, server CPU per request" if y == ys[0] else None)
            ax.text(cr, y, f" {cr:.2f}x", va="center", fontsize=7, color="#a33")
        c = r.get("pocketbase_vs_ceiling")
        if p in ("view", "health") and c:
            ax.barh(y - h, 1 / c, height=h, color=COLORS["ceiling"], hatch="//", alpha=0.6,
                    label="bare hyper+SQLite / PocketBase, req/s" if p == "view" else None)
            ax.text(1 / c, y - h, f" {1 / c:.2f}x", va="center", fontsize=7, color="#555")
        if p in TARGET:
            ax.plot([TARGET[p]] * 2, [y - 0.42, y + 0.42], color="black", lw=2,
                    label="issue #5 target" if p == "view" else None)
    ax.axvline(1, color=COLORS["pocketbase"], ls="--", lw=1, label="PocketBase = 1")
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("throughput relative to PocketBase (log)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("kulisse vs PocketBase, same run", fontsize=11)

    servers = [s for s in ("kulisse", "pocketbase", "ceiling") if s in res["servers"]]
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

    fig.suptitle(f"bench/run {res.get('mode')} {res.get('stamp')} — {res.get('nproc')} cores "
                 f"{res.get('cpu')}, driver on the same cores, PocketBase {res.get('pocketbase_version')} "
                 f"(request log off)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"chart: {out}")


if __name__ == "__main__":
    main()
