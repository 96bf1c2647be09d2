"""Static files in production: compressed (gzip, and Brotli where the package is installed) with
content hashes in their names, served by the application itself (WhiteNoise) with a year's
cache, so pages work behind any proxy and under ``runserver`` with ``DEBUG=0``.

Before ``collectstatic`` has run (tests, a quick ``runserver``) there is no manifest: names
stay as they are and WhiteNoise serves the files from the apps' folders
(``WHITENOISE_USE_FINDERS``), instead of every page failing on a missing manifest entry."""

from __future__ import annotations

from typing import Any

from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.storage import CompressedManifestStaticFilesStorage

# A file whose name is its content's hash never changes: a changed file is a new URL.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
# The static files' URLs a process remembers: the templates name a few dozen; the bound keeps
# a caller that passes names of its own from growing the memory.
URLS_KEPT = 1024


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False

    def url(self, name: str | None, force: bool = False) -> str:
        # Hashed names with DEBUG on too (Django's storage drops them then): `make run` serves
        # what production serves. Each name's URL is worked out once per process (a page names
        # a dozen files): the manifest is read when the storage starts and never changes.
        if name is None:
            return super().url(name, force=True)  # type: ignore[no-any-return]
        url = self._urls.get(name)
        if url is None:
            url = super().url(name, force=True)
            if len(self._urls) < URLS_KEPT:
                self._urls[name] = url
        return url  # type: ignore[no-any-return]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Names found not collected, answered without asking the disk again: each page
        # rendered names a dozen static files, and each miss is a file-system lookup.
        self._not_collected: set[str] = set()
        self._urls: dict[str, str] = {}

    def stored_name(self, name: str) -> str:
        if name in self._not_collected:
            return name
        try:
            return super().stored_name(name)
        except ValueError:  # not collected: the finders serve it under its own name
            self._not_collected.add(name)
            return name


class StaticFilesMiddleware(WhiteNoiseMiddleware):  # type: ignore[misc]
    """WhiteNoise, with the year's cache that hashed names get everywhere else (WhiteNoise's own
    is ten years; a year is the most HTTP caches are asked to honour)."""

    def add_cache_headers(self, headers: Any, path: str, url: str) -> None:
        if self.immutable_file_test(path, url):
            headers["Cache-Control"] = IMMUTABLE_CACHE_CONTROL
        else:
            super().add_cache_headers(headers, path, url)
