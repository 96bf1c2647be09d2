"""Static files in production: compressed (gzip and Brotli where available) with content hashes
in their names, served by the application itself (WhiteNoise), so pages work behind any proxy
and under ``runserver`` with ``DEBUG=0``.

Before ``collectstatic`` has run (tests, a quick ``runserver``) there is no manifest: names
stay as they are and WhiteNoise serves the files from the apps' folders
(``WHITENOISE_USE_FINDERS``), instead of every page failing on a missing manifest entry."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:  # not collected: the finders serve it under its own name
            return name
