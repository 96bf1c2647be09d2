"""Webhook signing and delivery, with knobs to make delivery as hostile as Stripe's can be.

Stripe promises at-least-once delivery in no particular order; a correct receiver must cope
with duplicates, reordering and concurrent deliveries. The delivery options make each of those
happen on demand (per endpoint, or globally as a default for every endpoint):

``duplicate`` (int >= 1)   deliver every event this many times
``shuffle`` (bool)         collect events for ``batch_ms`` and deliver the batch in random order
                           (``reorder`` is accepted as an alias)
``batch_ms`` (int)         the shuffle window, default 100
``delay_ms`` (int)         wait this long before each delivery attempt
``concurrency`` (int)      deliver from this many threads at once (1 keeps event order)
``hold`` (bool)            keep events until ``flush()``
``max_attempts`` (int)     attempts per delivery, retried with exponential backoff, default 4
``retry_backoff_ms`` (int) first retry delay, doubled each time, default 250
``timeout_ms`` (int)       HTTP timeout per attempt, default 5000
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import random
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import StripeError
from .objects import Obj, new_id

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "duplicate": 1,
    "shuffle": False,
    "batch_ms": 100,
    "delay_ms": 0,
    "concurrency": 1,
    "hold": False,
    "max_attempts": 4,
    "retry_backoff_ms": 250,
    "timeout_ms": 5000,
}
_LIMITS = {
    "duplicate": (1, 100),
    "batch_ms": (0, 60_000),
    "delay_ms": (0, 60_000),
    "concurrency": (1, 32),
    "max_attempts": (1, 20),
    "retry_backoff_ms": (0, 600_000),
    "timeout_ms": (1, 600_000),
}
_MAX_LOG = 10_000


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header: HMAC-SHA256 of ``"<t>.<payload>"`` keyed by the secret."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def validate_options(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Checked options; a ``None`` value means "back to the default"."""
    options: dict[str, Any] = {}
    for name, value in raw.items():
        key = "shuffle" if name == "reorder" else name
        if key not in DEFAULTS:
            raise StripeError(f"Unknown delivery option: {name}", param=name)
        if value is None:
            options[key] = None
        elif isinstance(DEFAULTS[key], bool):
            if not isinstance(value, bool):
                raise StripeError(f"{name} must be true or false", param=name)
            options[key] = value
        else:
            low, high = _LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise StripeError(f"{name} must be an integer from {low} to {high}", param=name)
            options[key] = value
    return options


@dataclass
class Endpoint:
    id: str
    account: str
    url: str
    secret: str
    enabled_events: list[str]
    options: dict[str, Any] = field(default_factory=dict)

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "api_key": f"sk_test_{self.account}",
            "url": self.url,
            "secret": self.secret,
            "enabled_events": self.enabled_events,
            "options": self.options,
        }


@dataclass
class _Job:
    endpoint: Endpoint
    event_id: str
    event_type: str
    payload: bytes
    generation: int
    attempt: int = 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Stripe does not follow redirects: a 3xx from the receiver is a failed delivery.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies: receivers are local, and an HTTP(S)_PROXY in the environment must not see them.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class Dispatcher:
    """Fans events out to the registered endpoints from background threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._endpoints: dict[str, Endpoint] = {}
        self._global: dict[str, Any] = {}
        self._held: list[_Job] = []
        self._batches: dict[str, list[_Job]] = {}
        self._lanes: dict[str, _Lane] = {}
        self._log: list[dict[str, Any]] = []
        self._pending = 0
        # Bumped by reset(): timers and workers still holding older jobs drop them.
        self._generation = 0

    # -- configuration ---------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._endpoints.clear()
            self._global.clear()
            self._held.clear()
            self._batches.clear()
            self._lanes.clear()
            self._log.clear()
            self._pending = 0
            self._changed.notify_all()

    def register(
        self,
        *,
        account: str,
        url: str,
        secret: str | None,
        enabled_events: list[str] | None,
        options: Mapping[str, Any],
    ) -> Endpoint:
        if not url.startswith(("http://", "https://")):
            raise StripeError("url must be an http(s) URL", param="url")
        endpoint = Endpoint(
            id=new_id("we_"),
            account=account,
            url=url,
            secret=secret or "whsec_" + secrets.token_hex(16),
            enabled_events=enabled_events or ["*"],
            options={k: v for k, v in validate_options(options).items() if v is not None},
        )
        with self._lock:
            self._endpoints[endpoint.id] = endpoint
        return endpoint

    def unregister(self, endpoint_id: str) -> None:
        with self._lock:
            if self._endpoints.pop(endpoint_id, None) is None:
                raise StripeError(f"No such endpoint: {endpoint_id}", status=404)

    def endpoints(self) -> list[Endpoint]:
        with self._lock:
            return list(self._endpoints.values())

    def count_for(self, account: str, event_type: str) -> int:
        with self._lock:
            return sum(
                1
                for ep in self._endpoints.values()
                if ep.account == account and ep.wants(event_type)
            )

    def set_options(self, endpoint_id: str | None, raw: Mapping[str, Any]) -> dict[str, Any]:
        options = validate_options(raw)
        with self._lock:
            if endpoint_id is None:
                target = self._global
            else:
                endpoint = self._endpoints.get(endpoint_id)
                if endpoint is None:
                    raise StripeError(f"No such endpoint: {endpoint_id}", status=404)
                target = endpoint.options
            for key, value in options.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
            return dict(target)

    def global_options(self) -> dict[str, Any]:
        with self._lock:
            return {**DEFAULTS, **self._global}

    def _effective(self, endpoint: Endpoint) -> dict[str, Any]:
        # Caller holds the lock.
        return {**DEFAULTS, **self._global, **endpoint.options}

    # -- delivery --------------------------------------------------------------------------

    def publish(self, account: str, event: Obj) -> None:
        """Queue a new event for every endpoint of its account that wants its type."""
        payload = json.dumps(event, indent=2).encode()
        with self._lock:
            for endpoint in self._endpoints.values():
                if endpoint.account != account or not endpoint.wants(event["type"]):
                    continue
                options = self._effective(endpoint)
                jobs = [
                    _Job(endpoint, event["id"], event["type"], payload, self._generation)
                    for _ in range(options["duplicate"])
                ]
                if options["hold"]:
                    self._held.extend(jobs)
                else:
                    self._submit(endpoint, jobs, options)

    def flush(self, *, account: str | None = None, endpoint_id: str | None = None) -> int:
        """Release held events (all, or one account's or endpoint's); returns how many."""
        with self._lock:
            released = [
                job
                for job in self._held
                if (account is None or job.endpoint.account == account)
                and (endpoint_id is None or job.endpoint.id == endpoint_id)
            ]
            self._held = [job for job in self._held if job not in released]
            by_endpoint: dict[str, list[_Job]] = {}
            for job in released:
                by_endpoint.setdefault(job.endpoint.id, []).append(job)
            for jobs in by_endpoint.values():
                endpoint = jobs[0].endpoint
                self._submit(endpoint, jobs, self._effective(endpoint))
            return len(released)

    def resend(self, account: str, event: Obj, endpoint_id: str | None = None) -> int:
        """Deliver an event once more to its account's endpoints, ignoring hold and duplicate."""
        payload = json.dumps(event, indent=2).encode()
        with self._lock:
            targets = [
                ep
                for ep in self._endpoints.values()
                if ep.account == account and (endpoint_id is None or ep.id == endpoint_id)
            ]
            for endpoint in targets:
                job = _Job(endpoint, event["id"], event["type"], payload, self._generation)
                self._pending += 1
                self._lane(endpoint).put([job])
            return len(targets)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until nothing is queued, in flight or waiting for a retry (held jobs excepted)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def deliveries(
        self,
        *,
        account: str | None = None,
        event_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(entry)
                for entry in self._log
                if (account is None or entry["api_key"] == f"sk_test_{account}")
                and (event_id is None or entry["event_id"] == event_id)
                and (endpoint_id is None or entry["endpoint_id"] == endpoint_id)
            ]

    def _submit(self, endpoint: Endpoint, jobs: list[_Job], options: dict[str, Any]) -> None:
        # Caller holds the lock.
        self._pending += len(jobs)
        if not options["shuffle"]:
            self._lane(endpoint).put(jobs)
            return
        batch = self._batches.setdefault(endpoint.id, [])
        if not batch:
            timer = threading.Timer(
                options["batch_ms"] / 1000, self._release_batch, (endpoint, self._generation)
            )
            timer.daemon = True
            timer.start()
        batch.extend(jobs)

    def _release_batch(self, endpoint: Endpoint, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            jobs = self._batches.pop(endpoint.id, [])
            random.shuffle(jobs)
            self._lane(endpoint).put(jobs)

    def _lane(self, endpoint: Endpoint) -> _Lane:
        # Caller holds the lock.
        lane = self._lanes.get(endpoint.id)
        if lane is None:
            lane = self._lanes[endpoint.id] = _Lane(self, endpoint)
        return lane

    def _deliver(self, job: _Job) -> None:
        with self._lock:
            if job.generation != self._generation:
                return
            options = self._effective(job.endpoint)
        if options["delay_ms"]:
            time.sleep(options["delay_ms"] / 1000)
        started = time.time()
        status, error, body = _post(job, options["timeout_ms"] / 1000)
        ok = status is not None and 200 <= status < 300
        entry = {
            "id": new_id("dlv_"),
            "api_key": f"sk_test_{job.endpoint.account}",
            "endpoint_id": job.endpoint.id,
            "url": job.endpoint.url,
            "event_id": job.event_id,
            "event_type": job.event_type,
            "attempt": job.attempt,
            "status": status,
            "ok": ok,
            "error": error,
            "response_body": body,
            "delivered_at": started,
            "duration_ms": int((time.time() - started) * 1000),
        }
        if not ok:
            logger.warning(
                "webhook %s to %s failed (attempt %d): %s",
                job.event_id,
                job.endpoint.url,
                job.attempt,
                error or status,
            )
        with self._lock:
            if job.generation != self._generation:
                return
            self._log.append(entry)
            del self._log[:-_MAX_LOG]
            if ok or job.attempt >= options["max_attempts"]:
                self._finish_locked(job)
                return
            delay = options["retry_backoff_ms"] * 2 ** (job.attempt - 1) / 1000
            job.attempt += 1
            timer = threading.Timer(delay, self._retry, (job,))
            timer.daemon = True
            timer.start()

    def _finish(self, job: _Job) -> None:
        with self._lock:
            self._finish_locked(job)

    def _finish_locked(self, job: _Job) -> None:
        if job.generation == self._generation:
            self._pending -= 1
            self._changed.notify_all()

    def _retry(self, job: _Job) -> None:
        with self._lock:
            if job.generation == self._generation:
                self._lane(job.endpoint).put([job])


class _Lane:
    """One endpoint's queue and its worker threads (started on demand, gone when idle)."""

    def __init__(self, dispatcher: Dispatcher, endpoint: Endpoint) -> None:
        self._dispatcher = dispatcher
        self._endpoint = endpoint
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._workers = 0

    def put(self, jobs: list[_Job]) -> None:
        # Caller holds the dispatcher lock, which also guards ``_workers``: a worker retires
        # only after re-checking the queue under that lock, so no job is left without one.
        for job in jobs:
            self._queue.put(job)
        wanted = self._dispatcher._effective(self._endpoint)["concurrency"]
        while self._workers < min(wanted, self._queue.qsize()):
            self._workers += 1
            threading.Thread(target=self._work, daemon=True, name="webhook-delivery").start()

    def _work(self) -> None:
        lock = self._dispatcher._lock
        while True:
            with lock:
                if self._workers > self._dispatcher._effective(self._endpoint)["concurrency"]:
                    self._workers -= 1
                    return
            try:
                job = self._queue.get(timeout=0.5)
            except queue.Empty:
                with lock:
                    if self._queue.empty():
                        self._workers -= 1
                        return
                continue
            try:
                self._dispatcher._deliver(job)
            except Exception:  # A bug here must not kill the lane or leave wait_idle hanging.
                logger.exception("webhook delivery crashed")
                self._dispatcher._finish(job)


def _post(job: _Job, timeout: float) -> tuple[int | None, str | None, str]:
    timestamp = int(time.time())
    # The URL scheme was checked (http/https) when the endpoint was registered.
    request = urllib.request.Request(  # noqa: S310
        job.endpoint.url,
        data=job.payload,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            # Signed per attempt, as Stripe does, so retries carry a fresh timestamp.
            "Stripe-Signature": sign(job.payload, job.endpoint.secret, timestamp),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, None, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        body = exc.read(2000).decode("utf-8", "replace") if exc.fp else ""
        return exc.code, None, body
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}", ""
