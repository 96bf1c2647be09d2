"""Pages and JSON compressed by the app itself (gzip), so every deployment sends them compressed:
behind the proxy of docker-compose.yml, straight from granian, under ``make run``.

BREACH (guessing a secret in a compressed response from its size, byte by byte, with input the
attacker reflects into the same response over many requests) finds nothing to guess here:
- customer pages carry one lasting secret, the share token, and it is in their URL: whoever can
  make a browser request the page already has it;
- CSRF tokens in forms are masked anew for every response (Django), and so is the CSP nonce:
  nothing repeats across the requests an attack needs;
- Django's GZipMiddleware pads each response with up to 100 random bytes ("Heal the BREACH"),
  so sizes vary from one response to the next.

Only text is compressed, and only whole responses: PDFs, ZIPs and images are compressed already
(compressing them again costs CPU for nothing), static files come compressed from WhiteNoise
(``collectstatic`` writes their ``.gz`` copies), and streams (the comments' server-sent events,
exports) go out as they are produced. The REST API answers as it always has: its clients are
programs, not browsers, and some that send ``Accept-Encoding: gzip`` read the body raw."""

from __future__ import annotations

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.gzip import GZipMiddleware

COMPRESSIBLE_TYPES = (
    "text/html",
    "text/plain",
    "text/css",
    "text/csv",
    "application/json",
    "text/javascript",
    "application/javascript",
    "application/xml",
    "text/xml",
    "image/svg+xml",
)


# The REST API (portal_project/urls.py mounts it at /api/v1/).
UNCOMPRESSED_PREFIXES = ("/api/",)


def is_compressible(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in COMPRESSIBLE_TYPES


class TextCompressionMiddleware(GZipMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            response.streaming
            or request.path.startswith(UNCOMPRESSED_PREFIXES)
            or not is_compressible(response.get("Content-Type", ""))
        ):
            return response
        return super().process_response(request, response)  # type: ignore[no-any-return]
