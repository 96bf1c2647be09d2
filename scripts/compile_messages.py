"""Compile locale/*/LC_MESSAGES/*.po into .mo with Babel, so no system gettext is needed.

Fuzzy entries are left out (as msgfmt does); a fuzzy *header*, which makemessages writes, does not
discard the whole catalog (Babel would otherwise skip it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    compiled = 0
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        catalog.fuzzy = False
        with po_path.with_suffix(".mo").open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        compiled += 1
    print(f"compiled {compiled} catalogs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
