"""Static URLs: each name's URL is worked out once per process and stays that name's own."""

from __future__ import annotations

import json
from pathlib import Path

from core.staticfiles import URLS_KEPT, HashedStaticFilesStorage


def _storage(root: Path, paths: dict[str, str]) -> HashedStaticFilesStorage:
    (root / "staticfiles.json").write_text(json.dumps({"paths": paths, "version": "1.1"}))
    return HashedStaticFilesStorage(location=str(root), base_url="/static/")


def test_each_name_keeps_its_own_hashed_url(tmp_path: Path) -> None:
    storage = _storage(tmp_path, {"payments/pay.css": "payments/pay.0a1b2c.css"})
    for _ in range(2):
        assert storage.url("payments/pay.css") == "/static/payments/pay.0a1b2c.css"
        # Not collected: served by the finders under its own name.
        assert storage.url("portal/new.js") == "/static/portal/new.js"


def test_past_the_remembered_names_urls_stay_right(tmp_path: Path) -> None:
    paths = {f"f{n}.css": f"f{n}.{n:06x}.css" for n in range(URLS_KEPT + 50)}
    storage = _storage(tmp_path, paths)
    for _ in range(2):
        for name, hashed in paths.items():
            assert storage.url(name) == f"/static/{hashed}"
