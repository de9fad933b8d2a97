#!/usr/bin/env python3
"""Runs every command block of README.md exactly as written.

A newcomer copies these blocks into a terminal, so each one is a promise. Every fenced block
must be preceded by a `<!-- readme-test: KIND -->` comment saying how it is run; a block
without one fails the run, so no new block goes untested by accident.

KIND is one of:
  server    run from the repository root in the background until kulisse answers on
            127.0.0.1:8090, then stopped with SIGINT as Ctrl-C would (install + serve)
  session   one shell session in a fresh empty directory, in README order: bash blocks are
            run by bash, js blocks by node (with the `pocketbase` package from sdk-tests/)
  postgres  like server, with DATABASE_URL naming a fresh database (argument --pg-url)
  this is the test command ...   the command running this script; not run again

Usage: scripts/readme_test.py [--pg-url URL]   (from anywhere; needs curl and jq for the
quick start, and sdk-tests/node_modules)
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEALTH = "http://127.0.0.1:8090/api/health"
BLOCK = re.compile(r"<!-- readme-test: ([^>]*?) -->\s*\n```(\w+)\n(.*?)\n```", re.S)
FENCE = re.compile(r"^```\w+$", re.M)


def blocks(text):
    found = [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(text)]
    if len(found) != len(FENCE.findall(text)):
        sys.exit("README.md: every ``` block needs a <!-- readme-test: KIND --> comment before it")
    return found


def wait_healthy(proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the block exited with {proc.returncode} before kulisse answered")
        try:
            with urllib.request.urlopen(HEALTH, timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"kulisse did not answer on {HEALTH} within {timeout} s")


def run_server(code, env, cwd, timeout):
    """Runs a block that ends in a foreground server; stops it like Ctrl-C does."""
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env,
                            start_new_session=True)
    try:
        wait_healthy(proc, timeout)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    print("  answered on 127.0.0.1:8090 and stopped on SIGINT")


def run_session(parts, env):
    """Runs the session blocks as one bash script in a fresh directory."""
    with tempfile.TemporaryDirectory() as work:
        script = ["set -euo pipefail"]
        for i, (lang, code) in enumerate(parts):
            if lang == "bash":
                script.append(code)
            elif lang == "js":
                path = os.path.join(ROOT, "sdk-tests", f".readme-{os.getpid()}-{i}.mjs")
                with open(path, "w") as f:
                    f.write(code)
                script.append(f"node {path}; rm -f {path}")
            else:
                sys.exit(f"README.md: a session block in {lang} cannot be run")
        proc = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=work, env=env,
                                start_new_session=True)
        try:
            proc.wait(timeout=300)
        finally:
            # A failed session may leave its background server running.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for f in os.listdir(os.path.join(ROOT, "sdk-tests")):
                if f.startswith(f".readme-{os.getpid()}-"):
                    os.remove(os.path.join(ROOT, "sdk-tests", f))
        if proc.returncode != 0:
            sys.exit(f"the quick start session failed with {proc.returncode}")
    print(f"  {len(parts)} blocks ran in one session")


def main():
    pg_url = None
    if len(sys.argv) == 3 and sys.argv[1] == "--pg-url":
        pg_url = sys.argv[2]
    with open(os.path.join(ROOT, "README.md")) as f:
        found = blocks(f.read())
    env = dict(os.environ)
    env["PATH"] = os.path.expanduser("~/.cargo/bin") + os.pathsep + env.get("PATH", "")
    session = []
    for kind, lang, code in found:
        if kind == "server":
            print(f"==> README: server block\n{code}")
            had_data = os.path.exists(os.path.join(ROOT, "kulisse_data"))
            # The install is a release build from scratch: allow for it.
            run_server(code, env, ROOT, timeout=3600)
            if not had_data:
                shutil.rmtree(os.path.join(ROOT, "kulisse_data"), ignore_errors=True)
        elif kind == "postgres":
            if not pg_url:
                print("==> README: postgres block skipped (no --pg-url)")
                continue
            print(f"==> README: postgres block\n{code}")
            with tempfile.TemporaryDirectory() as work:
                run_server(code, dict(env, DATABASE_URL=pg_url), work, timeout=60)
        elif kind == "session":
            session.append((lang, code))
        elif kind.startswith("this is the test command"):
            continue
        else:
            sys.exit(f"README.md: unknown readme-test kind {kind!r}")
    if session:
        print("==> README: quick start session")
        run_session(session, env)
    print("==> README: every block ran as written")


if __name__ == "__main__":
    main()
