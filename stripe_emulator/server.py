"""The HTTP server: stdlib ``ThreadingHTTPServer`` routing to the API, the control API, the
hosted Checkout page and the Stripe.js stand-in.

In tests::

    server, base_url = start_in_thread()     # a free port on 127.0.0.1
    client = stripe.StripeClient("sk_test_a", base_addresses={"api": base_url})
    ...
    server.reset()                           # or POST /_emulator/reset
    server.shutdown()
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import api, billing, control, hosted, stripe_js  # noqa: F401  (billing: its routes)
from .core import Emulator
from .webhooks import Endpoint
from .wire import Request, Response, json_response

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8420

_CORS = {
    # Stripe's API answers any origin: the browser calls of Stripe.js need it.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": (
        "Authorization, Content-Type, Idempotency-Key, Stripe-Version, Stripe-Account"
    ),
    "Access-Control-Expose-Headers": "Request-Id, Idempotency-Key, Stripe-Version",
    "Access-Control-Max-Age": "600",
    # Chrome's Private Network Access preflight, for a page served from a non-local address.
    "Access-Control-Allow-Private-Network": "true",
}


def dispatch(emulator: Emulator, request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(204)
    if request.path.startswith("/v1/"):
        return api.handle(emulator, request)
    if request.path.startswith("/_emulator/"):
        return control.handle(emulator, request)
    response = (
        stripe_js.handle(request)
        or hosted.handle(emulator, request)
        or hosted.handle_invoice_page(emulator, request)
    )
    if response is not None:
        return response
    message = f"Unrecognized request URL ({request.method}: {request.path})."
    return json_response(404, {"error": {"type": "invalid_request_error", "message": message}})


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    # Tests start and stop servers quickly; let a new one take a port still in TIME_WAIT.
    allow_reuse_address = True

    def __init__(self, port: int = DEFAULT_PORT, emulator: Emulator | None = None) -> None:
        super().__init__((HOST, port), _Handler)
        self.emulator = emulator or Emulator()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def reset(self) -> None:
        self.emulator.reset()

    def add_webhook_endpoint(
        self,
        *,
        api_key: str,
        url: str,
        secret: str | None = None,
        enabled_events: list[str] | None = None,
        **options: Any,
    ) -> Endpoint:
        """The Python form of ``POST /_emulator/webhook_endpoints``."""
        return self.emulator.webhooks.register(
            account=self.emulator.store.suffix_of(api_key),
            url=url,
            secret=secret,
            enabled_events=enabled_events,
            options=options,
        )

    def shutdown(self) -> None:
        """Stop serving, close the socket and stop timers and deliveries."""
        super().shutdown()
        self.server_close()
        self.emulator.reset()


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections are dropped after this many seconds.
    timeout = 30
    # Headers and body go out in separate writes; with Nagle's algorithm on, a keep-alive
    # client waits for a delayed ACK (~40 ms) on every call.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        # A base URL configured with a trailing slash makes the SDK ask for "//v1/...", which
        # urlsplit would read as a host name.
        url = urlsplit("/" + self.path.lstrip("/"))
        host = self.headers.get("Host") or f"{HOST}:{self.server.server_address[1]}"
        request = Request(
            method=self.command,
            path=url.path,
            query=url.query,
            body=body,
            headers={name.lower(): value for name, value in self.headers.items()},
            base_url=f"http://{host}",
        )
        try:
            response = dispatch(self.server.emulator, request)
        except Exception:
            logger.exception("emulator error on %s %s", request.method, request.path)
            response = json_response(
                500, {"error": {"type": "api_error", "message": "The Stripe emulator crashed."}}
            )
        self._send(response)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            headers = {
                **_CORS,
                "Content-Type": response.content_type,
                "Content-Length": str(len(response.body)),
                "Cache-Control": "no-store",
                **response.headers,
            }
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (a browser navigating off); nothing to tell it.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def start_in_thread(port: int = 0) -> tuple[EmulatorServer, str]:
    """Serve from a daemon thread (``port=0``: any free port); returns the server and its URL."""
    server = EmulatorServer(port)
    # A short poll interval makes shutdown() quick, which adds up over a test suite.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="stripe-emulator", daemon=True
    )
    thread.start()
    return server, server.base_url


def serve(port: int = DEFAULT_PORT) -> None:
    """Serve on 127.0.0.1 until interrupted (``python -m stripe_emulator``)."""
    server = EmulatorServer(port)
    print(f"Stripe emulator listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
