#!/usr/bin/env bash
# Local demo: migrate, seed, start the Stripe emulator, connect the demo company to it, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT="${PORT:-8000}"
EMULATOR_PORT="${EMULATOR_PORT:-8420}"
export DEBUG="${DEBUG:-1}"
export STRIPE_API_BASE="${STRIPE_API_BASE:-http://127.0.0.1:${EMULATOR_PORT}}"
export STRIPE_JS_URL="${STRIPE_JS_URL:-http://127.0.0.1:${EMULATOR_PORT}/v3/stripe.js}"

$BIN/python manage.py migrate --noinput -v 0
$BIN/python manage.py seed_demo

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if $BIN/python manage.py help stripe_emulator >/dev/null 2>&1; then
  $BIN/python manage.py stripe_emulator --port "$EMULATOR_PORT" &
  pids+=($!)
  # Wait until it answers (Django's start-up takes a few seconds on a busy machine): the
  # registration below fails otherwise, and the demo would get no webhooks.
  $BIN/python - "$EMULATOR_PORT" <<'PY' || echo "The Stripe emulator did not start." >&2
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/_emulator/webhook_endpoints"
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for _ in range(100):
    try:
        opener.open(url, timeout=1).close()
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit(1)
PY
  if $BIN/python manage.py help connect_stripe >/dev/null 2>&1; then
    $BIN/python manage.py connect_stripe acme --secret-key sk_test_acme_demo \
      --webhook-secret whsec_acme_demo --register-with-emulator || true
  fi
fi

echo "Serving on http://127.0.0.1:${PORT}/ (admin: /admin/, health: /healthz)"
# Not exec: the shell stays to run the trap, which stops the emulator (started in the
# background, it ignores the terminal's Ctrl-C and would keep its port after we exit).
$BIN/python manage.py runserver "127.0.0.1:${PORT}"
