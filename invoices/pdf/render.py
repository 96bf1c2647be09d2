"""HTML to PDF with WeasyPrint: the only module that imports it.

WeasyPrint costs about a second to import, so it is imported on the first render, not when
Django starts. One FontConfiguration and the parsed print stylesheet are kept per process: the
@font-face rules and the CSS are parsed once, not on every render.
"""

from __future__ import annotations

import atexit
import functools
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from django.contrib.staticfiles import finders

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

# Static files the PDF uses; found through the staticfiles finders (the source tree).
STYLESHEET = "pdf/invoice.css"
FONTS_DIR = "fonts"

# WeasyPrint documents are not safe to lay out concurrently on one FontConfiguration; renders
# in one process (threads of a web server) take turns. Celery workers are processes.
_render_lock = threading.Lock()


class PdfRenderError(Exception):
    pass


def static_path(name: str) -> Path:
    found = finders.find(name)
    if not found or isinstance(found, list):
        raise PdfRenderError(f"Static file {name!r} is missing.")
    return Path(found)


@functools.cache
def _allowed_roots() -> tuple[Path, ...]:
    return (static_path(FONTS_DIR).resolve(), static_path(STYLESHEET).parent.resolve())


@functools.cache
def _url_fetcher() -> Any:
    from weasyprint.urls import URLFetcher

    class LocalOnlyFetcher(URLFetcher):  # type: ignore[misc]
        """Only our own fonts and stylesheet (file:) and inline images (data:): a PDF render
        never reaches the network or reads any other file, whatever text an invoice holds."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            if parts.scheme == "file":
                path = Path(unquote(parts.path)).resolve()
                if not any(path.is_relative_to(root) for root in _allowed_roots()):
                    raise ValueError(f"PDF may not load {url}")
            elif parts.scheme != "data":
                raise ValueError(f"PDF may not load {url}")
            return super().fetch(url, headers)

    return LocalOnlyFetcher(allowed_protocols={"file", "data"})


@functools.cache
def _font_config() -> FontConfiguration:
    from weasyprint.text.fonts import FontConfiguration

    # Released while the interpreter is still whole: its __del__ fails at shutdown otherwise.
    atexit.register(_font_config.cache_clear)
    atexit.register(_stylesheet.cache_clear)
    return FontConfiguration()


@functools.cache
def _stylesheet() -> CSS:
    from weasyprint import CSS

    return CSS(
        filename=str(static_path(STYLESHEET)),
        font_config=_font_config(),
        url_fetcher=_url_fetcher(),
    )


def render_pdf(html: str, *, variant: str | None = None) -> bytes:
    """The PDF of ``html`` (a full document) with the print stylesheet and the shipped fonts.
    ``variant``: a WeasyPrint PDF variant, e.g. ``"pdf/a-3b"`` (archival, with an output intent
    and XMP metadata) for the PDF an e-invoice's XML is embedded into."""
    from weasyprint import HTML

    with _render_lock:
        document = HTML(
            string=html,
            base_url=str(static_path(STYLESHEET).parent) + "/",
            url_fetcher=_url_fetcher(),
        )
        pdf: bytes = document.write_pdf(
            stylesheets=[_stylesheet()],
            font_config=_font_config(),
            # full_fonts stays off: subsetting keeps a one-page invoice at tens of kilobytes.
            **({"pdf_variant": variant} if variant else {}),
        )
    return pdf
