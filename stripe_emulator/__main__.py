"""``python -m stripe_emulator [--port 8420]``: serve the emulator on 127.0.0.1 until Ctrl-C.

``manage.py stripe_emulator`` is an alias that runs this module in its place. The emulator needs neither
Django nor the app's settings.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from .server import DEFAULT_PORT, HOST, serve


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_emulator",
        description=f"Run the local Stripe emulator on {HOST} (point STRIPE_API_BASE at it).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"default {DEFAULT_PORT}; 0 for any free port",
    )
    args = parser.parse_args(argv)
    # Delivery failures and crashes are logged; under manage.py Django's logging is already set
    # up and this does nothing.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(port=args.port)


if __name__ == "__main__":
    main()
