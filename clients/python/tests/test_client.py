"""The Python client against the real `grace` binary, started by each test on 127.0.0.1.

The binary is `$GRACE_BIN`, or the workspace's `target/debug/grace` (`cargo build` makes it;
`.ci/test` runs these after the Rust suite).
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
from pathlib import Path

from grace_client import Client

ROOT = Path(__file__).resolve().parents[3]
GRACE_BIN = os.environ.get("GRACE_BIN", str(ROOT / "target" / "debug" / "grace"))
TIMEOUT_S = 20


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(what, check, timeout_s=TIMEOUT_S):
    """Polls ``check`` until it returns something truthy; fails naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Grace:
    """A `grace serve` process on `port` with `config`, its store in `directory`."""

    def __init__(self, directory, port, config=""):
        self.directory = Path(directory)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        (self.directory / "grace.toml").write_text(
            f'[server]\nbind = "127.0.0.1:{port}"\n[store]\npath = "store"\n{config}')
        self.process = None

    def start(self):
        with open(self.directory / "grace.log", "ab") as log:
            self.process = subprocess.Popen(
                [GRACE_BIN, "serve", "--config", str(self.directory / "grace.toml")],
                cwd=self.directory, stdout=subprocess.DEVNULL, stderr=log)
        eventually("grace to answer", lambda: self.get("/health") is not None)
        return self

    def kill_9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill_9()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return json.load(response)
        except OSError:
            return None

    def incident(self, predicate):
        def find():
            page = self.get("/monitoring/incidents?limit=100") or {"items": []}
            return next((i for i in page["items"] if predicate(i)), None)
        return find


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def grace(self, config=""):
        grace = Grace(self.dir.name, free_port(), config)
        self.addCleanup(grace.stop)
        return grace

    def client(self, grace, **kwargs):
        client = Client(grace.url, app="shop", **kwargs)
        self.addCleanup(client.close, 1)
        return client

    def test_a_failing_call_is_an_incident_and_the_next_good_one_resolves_it(self):
        grace = self.grace().start()
        client = self.client(grace)

        def query():
            raise ConnectionRefusedError("orders-db refused the connection")

        with self.assertRaises(ConnectionRefusedError):
            client.call_with_monitoring("orders-db", query)
        incident = eventually("the incident", grace.incident(
            lambda i: i["source"] == "shop/orders-db" and i["status"] == "open"))
        self.assertEqual(incident["event_type"], "dependency.failed")
        self.assertEqual(incident["title"], "orders-db failing for shop: shop/orders-db")
        detail = grace.get(f"/monitoring/incidents/{incident['id']}")
        failed = next(e for e in detail["timeline"] if e["type"] == "dependency.failed")
        self.assertIn("ConnectionRefusedError", failed["data"]["payload"]["error"])

        self.assertEqual(client.call_with_monitoring("orders-db", lambda: 42), 42)
        resolved = eventually("the recovery", grace.incident(
            lambda i: i["id"] == incident["id"] and i["status"] == "resolved"))
        self.assertEqual(resolved["resolved_by"], "recovery")

    def test_a_connection_that_fails_in_use_is_reported_and_closed(self):
        grace = self.grace().start()
        client = self.client(grace)
        closed = []

        class Conn:
            def close(self):
                closed.append(True)

        with self.assertRaises(TimeoutError):
            with client.monitored_connection("payments-api", Conn) as conn:
                self.assertIsInstance(conn, Conn)
                raise TimeoutError("payments-api took too long")
        self.assertEqual(closed, [True])
        eventually("the incident", grace.incident(lambda i: i["source"] == "shop/payments-api"))
        # A slow call is its own problem, in the same family: the next fast one resolves it.
        client.call_with_monitoring("search", lambda: time.sleep(0.05), slow_ms=10)
        slow = eventually("the slow incident", grace.incident(lambda i: i["source"] == "shop/search"))
        self.assertEqual(slow["event_type"], "dependency.slow")

    def test_a_heartbeat_reaches_its_monitor(self):
        grace = self.grace('[[monitors]]\nid = "nightly"\nkind = "heartbeat"\ngrace_ms = 60000\n'
                           'interval_ms = 100\n').start()
        client = self.client(grace)
        client.heartbeat("nightly")
        self.assertTrue(client.flush())

        def beaten():
            monitors = grace.get("/monitors") or {"items": []}
            nightly = next(m for m in monitors["items"] if m["id"] == "nightly")
            return nightly["state"] == "up"
        eventually("the heartbeat", beaten)

    def test_reports_wait_while_grace_is_away_and_never_block_the_app(self):
        grace = self.grace()  # not started yet
        client = self.client(grace, queue_max=3)
        # The first report is on its way, and Grace cannot be reached: it waits to be retried.
        with self.assertRaises(KeyError):
            client.call_with_monitoring("cache", lambda: {}["missing"])
        eventually("a first try", lambda: client.stats["retries"] >= 1)
        started = time.monotonic()
        for n in range(5):
            with self.assertRaises(KeyError):
                client.call_with_monitoring("cache", lambda: {}["missing"])
        self.assertLess(time.monotonic() - started, 1.0, "reporting must not block")
        self.assertEqual(client.stats["dropped"], 2, "the queue keeps the newest 3")
        grace.start()
        self.assertTrue(client.flush(TIMEOUT_S))
        # The first and the three newest.
        eventually("every failure kept", grace.incident(
            lambda i: i["source"] == "shop/cache" and i["occurrences"] == 4))

    def test_the_feed_resumes_after_grace_is_killed_missing_and_repeating_nothing(self):
        grace = self.grace().start()
        client = self.client(grace)
        seen = []
        done = threading.Event()

        def read():
            for event in client.subscribe(["dependency.*"], since=0, timeout_s=TIMEOUT_S):
                seen.append(event)
                if len(seen) == 4:
                    done.set()
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for name in ("a", "b"):
            client.report_failure(name, RuntimeError("down"), 1.0)
        self.assertTrue(client.flush())
        eventually("the first two events", lambda: len(seen) >= 2)
        grace.kill_9()
        grace.start()
        for name in ("c", "d"):
            client.report_failure(name, RuntimeError("down"), 1.0)
        self.assertTrue(done.wait(TIMEOUT_S), f"saw {[e['seq'] for e in seen]}")
        sources = [e["data"]["source"] for e in seen]
        self.assertEqual(sources, ["shop/a", "shop/b", "shop/c", "shop/d"])
        seqs = [e["seq"] for e in seen]
        self.assertEqual(seqs, sorted(set(seqs)), "in order, none twice")


if __name__ == "__main__":
    unittest.main()
