"""Grace's Python client: tell Grace what your app sees of the things it depends on, and
follow Grace's live feed. Standard library only.

    from grace_client import Client

    grace = Client("http://127.0.0.1:7878", app="checkout")
    rows = grace.call_with_monitoring("orders-db", run_query, "SELECT 1")
    with grace.monitored_connection("payments-api", open_session) as session:
        session.charge(order)
    grace.heartbeat("nightly-backup")
    for event in grace.subscribe(["incident.*"]):
        print(event["seq"], event["type"])

Reporting never blocks the app and never raises: events wait in a bounded queue (the oldest
are dropped past ``queue_max``, and counted) and a background thread sends them in batches,
retrying with backoff while Grace is away and waiting as long as Grace says (``Retry-After``)
when it is busy.
"""

import collections
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

from .websocket import HandshakeError, WebSocket, WebSocketClosed

__all__ = ["Client", "HandshakeError"]

log = logging.getLogger("grace_client")

FAILED = "dependency.failed"
SLOW = "dependency.slow"
RECOVERED = "dependency.recovered"
BACKOFF_S = (0.25, 0.5, 1, 2, 5, 10, 30)
SOURCE_LEN_MAX = 128


def _app_name():
    name = os.path.basename(sys.argv[0] or "") or "app"
    return re.sub(r"\.py$", "", name) or "app"


class Client:
    """One Grace server, as seen by one app.

    ``url``: Grace's address. ``token``: a token with the ``ingest`` role (``read`` for
    ``subscribe``), default ``$GRACE_TOKEN``. ``app``: the app's name; a dependency ``name``
    is reported under the source ``<app>/<name>``, so two apps using one database are two
    incidents Grace can tell apart, and no report can pass for a monitor of Grace's own.
    """

    def __init__(self, url="http://127.0.0.1:7878", token=None, app=None, queue_max=10_000,
                 batch_max=100, timeout_s=5.0):
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("GRACE_TOKEN")
        self.app = app or _app_name()
        self.queue_max = queue_max
        self.batch_max = batch_max
        self.timeout_s = timeout_s
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._state = {}  # dependency name -> "failed" | "slow" while Grace has been told so
        self.stats = {"sent": 0, "dropped": 0, "retries": 0, "refused": 0}
        self._thread = threading.Thread(target=self._send_loop, name="grace-client", daemon=True)
        self._thread.start()

    # ----- reporting ---------------------------------------------------------------------

    def push(self, event_type, source, kind=None, severity=None, title=None, payload=None):
        """Queues one event for ``POST /events``; returns at once."""
        event = {"type": event_type, "source": source}
        for key, value in (("kind", kind), ("severity", severity), ("title", title),
                           ("payload", payload)):
            if value is not None:
                event[key] = value
        self._enqueue(("event", event))

    def heartbeat(self, monitor_id):
        """Queues a heartbeat for Grace's heartbeat monitor ``monitor_id``; returns at once."""
        self._enqueue(("heartbeat", monitor_id))

    def call_with_monitoring(self, name, fn, *args, slow_ms=None, **kwargs):
        """Calls ``fn(*args, **kwargs)`` and returns what it returns. An exception is reported
        as dependency ``name`` failing (then raised as it was); a call slower than ``slow_ms``
        as it being slow; the first good call after either, as it having recovered."""
        started = time.monotonic()
        try:
            result = fn(*args, **kwargs)
        except Exception as error:
            self.report_failure(name, error, (time.monotonic() - started) * 1000)
            raise
        self.report_success(name, (time.monotonic() - started) * 1000, slow_ms)
        return result

    @contextmanager
    def monitored_connection(self, name, connect, slow_ms=None):
        """``with client.monitored_connection("orders-db", connect) as conn:`` — opens the
        connection with ``connect()`` and reports, like ``call_with_monitoring``, on opening it
        and on everything done with it in the block; closes it at the end if it can be."""
        conn = self.call_with_monitoring(name, connect, slow_ms=slow_ms)
        started = time.monotonic()
        try:
            yield conn
        except Exception as error:
            self.report_failure(name, error, (time.monotonic() - started) * 1000)
            raise
        finally:
            close = getattr(conn, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # closing a broken connection may fail too; reported above
                    pass
        self.report_success(name, (time.monotonic() - started) * 1000, None)

    def report_failure(self, name, error, latency_ms):
        """Tells Grace dependency ``name`` failed with ``error``."""
        self._state[name] = "failed"
        payload = {"app": self.app, "dependency": name, "error": f"{type(error).__name__}: {error}",
                   "latency_ms": round(latency_ms, 1)}
        self.push(FAILED, self.source_of(name), kind="problem", severity="high",
                  title=f"{name} failing for {self.app}", payload=payload)

    def report_success(self, name, latency_ms, slow_ms=None):
        """Tells Grace a call to ``name`` went well (or was slow), when that is news."""
        payload = {"app": self.app, "dependency": name, "latency_ms": round(latency_ms, 1)}
        if slow_ms is not None and latency_ms > slow_ms:
            if self._state.get(name) != "slow":
                self._state[name] = "slow"
                payload["slow_ms"] = slow_ms
                self.push(SLOW, self.source_of(name), kind="problem", severity="medium",
                          title=f"{name} slow for {self.app}", payload=payload)
        elif self._state.pop(name, None) is not None:
            self.push(RECOVERED, self.source_of(name), kind="recovery", payload=payload)

    def source_of(self, name):
        """The source dependency ``name`` is reported under: ``<app>/<name>``."""
        return f"{self.app}/{name}"[:SOURCE_LEN_MAX]

    def flush(self, timeout_s=10.0):
        """Waits until everything queued has been sent (or refused); whether it was in time."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout_s=5.0):
        """Sends what is queued (for up to ``timeout_s``) and stops the sender."""
        self.flush(timeout_s)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout_s)

    # ----- the sender --------------------------------------------------------------------

    def _enqueue(self, item):
        with self._cond:
            if len(self._queue) >= self.queue_max:
                self._queue.popleft()
                self.stats["dropped"] += 1
            self._queue.append(item)
            self._cond.notify_all()

    def _next_batch(self):
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            if self._queue[0][0] == "heartbeat":
                batch = [self._queue.popleft()]
            else:
                batch = []
                while self._queue and self._queue[0][0] == "event" and len(batch) < self.batch_max:
                    batch.append(self._queue.popleft())
            self._in_flight = len(batch)
            return batch

    def _send_loop(self):
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._deliver(batch)
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()

    def _deliver(self, batch):
        """Sends one batch until Grace takes or refuses it (or the client is closed)."""
        kind, first = batch[0]
        if kind == "heartbeat":
            path, body = f"/heartbeats/{urllib.parse.quote(first, safe='')}", {}
        else:
            path, body = "/events", [event for _, event in batch]
        for attempt in range(1_000_000):
            status, retry_after = self._post(path, body)
            if status in (200, 202):
                self.stats["sent"] += len(batch)
                return
            if 400 <= status < 500 and status != 429:
                self.stats["refused"] += len(batch)
                log.warning("Grace refused %s (%s); dropped", path, status)
                return
            if self._closed and attempt > 0:
                self.stats["dropped"] += len(batch)
                return
            self.stats["retries"] += 1
            wait_s = retry_after if retry_after is not None else BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            with self._cond:
                self._cond.wait_for(lambda: self._closed, timeout=wait_s)

    def _post(self, path, body):
        """POSTs JSON; (status, Retry-After seconds or None). 0 when Grace cannot be reached."""
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         method="POST", headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, None
        except urllib.error.HTTPError as error:
            retry_after = error.headers.get("Retry-After")
            try:
                retry_after = float(retry_after) if retry_after is not None else None
            except ValueError:
                retry_after = None
            return error.code, retry_after
        except (OSError, ValueError):
            return 0, None

    def _headers(self):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    # ----- the feed ----------------------------------------------------------------------

    def subscribe(self, patterns=("*",), since=None, reconnects_max=None, timeout_s=None):
        """Yields Grace's events (dicts with ``seq``, ``type``, ``at``, ``data``) matching the
        type ``patterns`` (``incident.*``, ``db.connection_lost``), from after ``since`` (or
        from now). When the connection drops — Grace restarted, or this reader fell behind —
        it reconnects and resumes after the last ``seq`` it yielded, so nothing is missed and
        nothing comes twice. ``reconnects_max`` bounds reconnects in a row (None: no bound);
        ``timeout_s`` bounds the wait for one event (``TimeoutError``)."""
        last = since
        failures = 0
        while True:
            try:
                ws = self._open_feed(patterns, last, timeout_s)
            except (OSError, HandshakeError, WebSocketClosed) as error:
                failures += 1
                if reconnects_max is not None and failures > reconnects_max:
                    raise ConnectionError(f"cannot reach Grace's feed: {error}") from error
                time.sleep(BACKOFF_S[min(failures - 1, len(BACKOFF_S) - 1)])
                continue
            failures = 0
            try:
                while True:
                    event = json.loads(ws.recv())
                    if last is not None and event["seq"] <= last:
                        continue
                    if event["type"] != "feed.truncated":
                        last = event["seq"]
                    yield event
            except socket.timeout:
                raise TimeoutError(f"no event from Grace within {timeout_s} s") from None
            except (OSError, WebSocketClosed) as error:
                log.info("feed closed (%s); resuming after seq %s", error, last)
            finally:
                ws.close()

    def _open_feed(self, patterns, since, timeout_s):
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        query = {"types": ",".join(patterns)}
        if since is not None:
            query["since"] = str(since)
        protocols = ("grace", f"grace.token.{self.token}") if self.token else ()
        ws = WebSocket(f"{base}/ws?{urllib.parse.urlencode(query)}", protocols)
        ws.settimeout(timeout_s)
        return ws
