"""The Python SDK (`pocketbase` on PyPI) subscribes to realtime and receives events.

Needs a running server with a superuser, like the JS suite:
KULISSE_URL (default http://127.0.0.1:8091), KULISSE_SUPERUSER_EMAIL, KULISSE_SUPERUSER_PASSWORD.

The SDK's `subscribe` returns before its subscription POST has reached the server (that POST
runs on the SDK's SSE thread once PB_CONNECT arrives), so the first test writes until the
first event shows the subscription is live, then checks one more write exactly.
"""

import os
import queue
import time
import uuid

import pytest
from pocketbase import PocketBase

BASE_URL = os.environ.get("KULISSE_URL", "http://127.0.0.1:8091")
SU_EMAIL = os.environ.get("KULISSE_SUPERUSER_EMAIL", "admin@example.com")
SU_PASSWORD = os.environ.get("KULISSE_SUPERUSER_PASSWORD", "1234567890")
WAIT_S = 5.0


@pytest.fixture()
def su():
    pb = PocketBase(BASE_URL)
    pb.collection("_superusers").auth_with_password(SU_EMAIL, SU_PASSWORD)
    return pb


@pytest.fixture()
def collection(su):
    name = "py_rt_" + uuid.uuid4().hex[:12]
    su.collections.create(
        {
            "name": name,
            "type": "base",
            "listRule": "",
            "viewRule": "",
            "fields": [{"name": "title", "type": "text"}],
        }
    )
    yield name
    su.collections.delete(name)


@pytest.fixture()
def guest():
    pb = PocketBase(BASE_URL)
    yield pb
    pb.realtime.unsubscribe()


def subscribed(pb, subscribe, tries=3):
    """Runs `subscribe()` until the SDK has its client id (PB_CONNECT arrived).

    The SDK starts its SSE thread before it registers its PB_CONNECT listener
    (`RealtimeService._connect`), so on a busy machine the event can arrive first and be
    dropped, and that connection never gets a client id. A new connection is the SDK's only
    way out: after a wait, the test unsubscribes (which closes it) and subscribes again.
    """
    for _ in range(tries):
        subscribe()
        deadline = time.monotonic() + WAIT_S
        while not pb.realtime.client_id and time.monotonic() < deadline:
            time.sleep(0.02)
        if pb.realtime.client_id:
            assert len(pb.realtime.client_id) == 40
            return
        pb.realtime.unsubscribe()
    pytest.fail(f"no PB_CONNECT on {tries} connections")


def first_event(events, write, attempts=20):
    """Write until an event arrives (the subscription is live); return (event, written ids)."""
    written = []
    for _ in range(attempts):
        written.append(write())
        try:
            return events.get(timeout=0.25), written
        except queue.Empty:
            continue
    pytest.fail(f"no realtime event after {attempts} writes")


def test_python_sdk_subscribe_receives_a_create_event(su, collection, guest):
    events = queue.Queue()
    subscribed(guest, lambda: guest.collection(collection).subscribe(events.put))

    counter = iter(range(1000))
    write = lambda: su.collection(collection).create({"title": f"w{next(counter)}"}).id
    ev, written = first_event(events, write)
    assert ev.action == "create"
    assert ev.record.id in written
    for _ in written[written.index(ev.record.id) + 1 :]:
        assert events.get(timeout=WAIT_S).action == "create"

    rec = su.collection(collection).create({"title": "exact"})
    ev = events.get(timeout=WAIT_S)
    assert ev.action == "create"
    assert ev.record.id == rec.id
    assert ev.record.title == "exact"
    assert ev.record.collection_name == collection


def test_python_sdk_subscribe_one_receives_update_and_delete_of_that_record(su, collection, guest):
    target = su.collection(collection).create({"title": "target"})
    events = queue.Queue()
    subscribed(guest, lambda: guest.collection(collection).subscribe_one(target.id, events.put))

    counter = iter(range(1000))
    write = lambda: su.collection(collection).update(target.id, {"title": f"u{next(counter)}"}).title
    ev, written = first_event(events, write)
    assert (ev.action, ev.record.id) == ("update", target.id)
    for title in written[written.index(ev.record.title) + 1 :]:
        assert events.get(timeout=WAIT_S).record.title == title

    other = su.collection(collection).create({"title": "other"})
    su.collection(collection).delete(target.id)
    ev = events.get(timeout=WAIT_S)
    assert (ev.action, ev.record.id) == ("delete", target.id), "another record's create must not arrive"
    su.collection(collection).delete(other.id)
