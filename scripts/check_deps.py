#!/usr/bin/env python3
"""Checks the dependency table of ARCHITECTURE.md against the workspace.

The table says which crate may use what; this script holds the same rules as data and fails
when a crate's normal (non-dev) dependencies break them, or when a source file of the binary
other than compose.rs names an engine or an adapter. Change the table and FORBIDDEN together.
Test kits (DEV_ONLY) may use anything, but only as dev-dependencies of other crates, and are
never published.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

SERVER = {"axum", "tower", "tower-http", "hyper"}
# `http` is the types crate: core's `RequestInfo` keeps the request's `HeaderMap` as is.
HTTP = SERVER | {"http"}
SQL = {"rusqlite", "tokio-postgres", "deadpool-postgres", "sea-query", "postgres-types"}
ENGINES = {"kulisse-store-sqlite", "kulisse-store-postgres"}
# Adapters implement a port of core for one technology; only the composition root picks one.
ADAPTERS = {"kulisse-feed-postgres", "kulisse-blob", "kulisse-thumbs", "kulisse-mail", "kulisse-oauth2",
            "kulisse-metrics"}
# A metrics exporter records for the whole process; only the adapter installs one. Trace
# export is a layer of the process's tracing subscriber; only the binary sets one up.
METRICS_EXPORTERS = {"metrics-exporter-prometheus", "metrics-process"}
TRACE_EXPORTERS = {"opentelemetry", "opentelemetry_sdk", "opentelemetry-otlp", "tracing-opentelemetry"}
EXPORTERS = METRICS_EXPORTERS | TRACE_EXPORTERS

# crate -> dependencies it must not have (None: it must have none at all).
FORBIDDEN = {
    "kulisse-schema": {"kulisse-filter", "kulisse-store", "kulisse-core", "tokio"} | ENGINES | SQL,
    "kulisse-filter": None,
    "kulisse-store": {"kulisse-core"} | HTTP | ENGINES | SQL,
    "kulisse-store-sqlite": {"kulisse-core", "kulisse-store-postgres", "tokio-postgres",
                             "deadpool-postgres"} | HTTP | EXPORTERS,
    "kulisse-store-postgres": {"kulisse-core", "kulisse-store-sqlite", "rusqlite"} | HTTP | EXPORTERS,
    "kulisse-core": SERVER | ENGINES | ADAPTERS | SQL | EXPORTERS,
    "kulisse-feed-postgres": HTTP | ENGINES | EXPORTERS | {"rusqlite", "deadpool-postgres"},
    "kulisse-blob": HTTP | ENGINES | SQL | EXPORTERS | {"kulisse-store"},
    "kulisse-thumbs": HTTP | ENGINES | SQL | EXPORTERS | {"kulisse-store", "tokio"},
    "kulisse-mail": HTTP | ENGINES | SQL | EXPORTERS | {"kulisse-store"},
    # An HTTP client only: it serves nothing.
    "kulisse-oauth2": SERVER | ENGINES | SQL | EXPORTERS | {"kulisse-store"},
    # A recorder for the metrics facade, and nothing else.
    "kulisse-metrics": HTTP | ENGINES | SQL | TRACE_EXPORTERS | {"kulisse-store", "tokio"},
    # HTTP reaches data only through the services: no storage port, engine or adapter.
    "kulisse-http": {"kulisse-store", "kulisse-admin"} | ENGINES | ADAPTERS | SQL | EXPORTERS,
    # The dashboard: pages over the services, served through kulisse-http; HTTP never
    # depends on it (the binary hands its pages to the router).
    "kulisse-admin": {"kulisse-store"} | ENGINES | ADAPTERS | SQL | EXPORTERS,
}
# Test kits: used only as dev-dependencies (tests), so they may depend on anything.
DEV_ONLY = {"kulisse-testkit", "kulisse-testkit-store"}
# Crates the table does not constrain: the binary (it composes everything), the test kits.
UNCONSTRAINED = {"kulisse"} | DEV_ONLY


def main():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    problems = []
    for package in meta["packages"]:
        name = package["name"]
        # Normal and build dependencies ship with the crate; a test kit must not (a kit may
        # build on another kit).
        shipped = {d["name"] for d in package["dependencies"] if d["kind"] != "dev"}
        if name not in DEV_ONLY and shipped & DEV_ONLY:
            kits = ", ".join(sorted(shipped & DEV_ONLY))
            problems.append(f"{name} uses the test kit {kits} outside [dev-dependencies]")
        if name in DEV_ONLY and package.get("publish") != []:
            problems.append(f"{name} is a test kit and must say publish = false")
        if name in UNCONSTRAINED:
            continue
        if name not in FORBIDDEN:
            problems.append(f"{name} is not in the dependency table")
            continue
        deps = {d["name"] for d in package["dependencies"] if d["kind"] is None}
        banned = FORBIDDEN[name]
        bad = sorted(deps) if banned is None else sorted(deps & banned)
        if bad:
            problems.append(f"{name} must not depend on {', '.join(bad)}")
    engine_use = re.compile(r"\bkulisse_(store_sqlite|store_postgres|feed_postgres)\b")
    src = ROOT / "crates" / "kulisse" / "src"
    for path in sorted(src.rglob("*.rs")):
        if path.name != "compose.rs" and engine_use.search(path.read_text()):
            problems.append(f"{path.relative_to(ROOT)} names an engine or adapter; "
                            "only compose.rs may")
    if problems:
        sys.exit("dependency rules of ARCHITECTURE.md broken:\n  " + "\n  ".join(problems))
    print(f"dependency rules of ARCHITECTURE.md hold ({len(FORBIDDEN)} crates, "
          f"test kits {', '.join(sorted(DEV_ONLY))} only in dev-dependencies, "
          f"{os.path.relpath(src, ROOT)} without engine or adapter names outside compose.rs)")


if __name__ == "__main__":
    main()
