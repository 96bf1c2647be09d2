#!/usr/bin/env bash
# Local demo: collect the static files, migrate, seed, start the Stripe emulator, connect the demo company to it, and serve
# the whole app over ASGI (granian) on one origin: pages, posts, static files and the live
# comment streams (server-sent events). Without REDIS_URL the streams hear new comments through
# an in-process fan-out, which is right here because one process serves everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT="${PORT:-8000}"
EMULATOR_PORT="${EMULATOR_PORT:-8420}"
BASE="http://127.0.0.1:${PORT}"
EMULATOR="http://127.0.0.1:${EMULATOR_PORT}"
export DEBUG="${DEBUG:-1}"
# Share links, emails and the admin's links point at this server, whatever PORT is.
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-$BASE}"
export STRIPE_API_BASE="${STRIPE_API_BASE:-$EMULATOR}"
export STRIPE_JS_URL="${STRIPE_JS_URL:-$EMULATOR/v3/stripe.js}"
# The demo's emails (invoices, receipts, staff notices) go to files, one per message, instead of
# filling the terminal; set EMAIL_URL to send them somewhere else.
EMAIL_DIR="$(pwd)/media/emails"
export EMAIL_URL="${EMAIL_URL:-file://$EMAIL_DIR}"

# wait_for URL PID: until URL answers (any HTTP status); fails if PID exits first or after a
# minute. Django's start-up takes a few seconds on a busy machine.
wait_for() {
  $BIN/python - "$1" "$2" <<'PY'
import os, sys, time, urllib.error, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        opener.open(url, timeout=5).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(1)
        time.sleep(0.2)
sys.exit(1)
PY
}

# Another server on one of our ports would answer the readiness checks below in our place.
for port in "$PORT" "$EMULATOR_PORT"; do
  if ! $BIN/python -c 'import socket, sys
socket.create_server(("127.0.0.1", int(sys.argv[1]))).close()' "$port" 2>/dev/null; then
    echo "Port $port on 127.0.0.1 is in use: stop what runs there or choose another" \
      "(PORT=..., EMULATOR_PORT=...)." >&2
    exit 1
  fi
done

# Static files as production serves them (hashed names, a year's cache, gzip and Brotli copies):
# collected again only when a static file or the installed packages changed since the last
# time, since collecting compresses every file (a minute of CPU).
# Their own folder, not staticfiles/: a manifest there would give the test suite hashed names.
export HASHED_STATIC=1
export STATIC_ROOT="${STATIC_ROOT:-$(pwd)/staticfiles-demo}"
manifest="$STATIC_ROOT/staticfiles.json"
if [ ! -f "$manifest" ] || [ -n "$(find static ./*/static ./*/*/static .venv/.installed -newer "$manifest" \
    -print -quit 2>/dev/null)" ]; then
  echo "Collecting the static files..."
  $BIN/python manage.py collectstatic --noinput -v 0
fi

echo "Preparing the demo database (migrate, seed_demo)..."
$BIN/python manage.py migrate --noinput -v 0
# Its logins and links are printed with everything else once the server is up.
seed_output="$($BIN/python manage.py seed_demo)"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Let them release their ports before make returns (granian: at most its kill timeout).
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

emulator_status="not running (see the messages above)"
if $BIN/python manage.py help stripe_emulator >/dev/null 2>&1; then
  $BIN/python manage.py stripe_emulator --port "$EMULATOR_PORT" &
  pids+=($!)
  # The registration below fails until it answers, and the demo would get no webhooks.
  if wait_for "$EMULATOR/_emulator/health" "$!"; then
    emulator_status="$EMULATOR  (API base; webhooks sent: $EMULATOR/_emulator/deliveries)"
    if $BIN/python manage.py help connect_stripe >/dev/null 2>&1; then
      $BIN/python manage.py connect_stripe acme --secret-key sk_test_acme_demo \
        --webhook-secret whsec_acme_demo --register-with-emulator >/dev/null || true
    fi
  else
    echo "The Stripe emulator did not start." >&2
  fi
fi

# Auto-reload needs granian's "reload" extra (watchfiles), which the lock does not install;
# when it is there, code and template changes restart the worker.
reload_args=()
reload_note="After code or template changes restart (Ctrl-C, make run), or add watchfiles to .venv."
if $BIN/python -c "import watchfiles" 2>/dev/null; then
  reload_args=(--reload --reload-ignore-dirs media --reload-ignore-dirs staticfiles
    --reload-ignore-dirs staticfiles-demo
    --reload-ignore-dirs test-artifacts --reload-ignore-patterns '\.sqlite3(-journal|-wal|-shm)?$')
  reload_note="Code and template changes restart the server by themselves."
fi

# One worker: the in-process comment fan-out reaches every stream only within one process.
# asginl: plain ASGI without lifespan events (Django has none). --workers-kill-timeout: open
# comment streams would otherwise hold Ctrl-C up for minutes.
$BIN/granian --interface asginl --host 127.0.0.1 --port "$PORT" --workers 1 \
  --workers-kill-timeout 2 --access-log "${reload_args[@]}" portal_project.asgi:application &
server=$!
pids+=("$server")
if ! wait_for "$BASE/healthz" "$server"; then
  echo "The server did not start on $BASE (is the port free?)." >&2
  exit 1
fi

# seed_demo's lines: "  user / password  (role)" and "<what>: <url>" (share, portal, embed).
logins="$(grep -E '^  \S+ / ' <<<"$seed_output" || true)"
pages="$(sed -n -E '/^Admin logins/d; /:\/\//s/^ */  /p' <<<"$seed_output")"
rule="$(printf '%.0s-' {1..78})"
cat <<EOF
$rule
Invoice Portal demo, served on 127.0.0.1:${PORT} by one ASGI server (granian): pages, admin,
API, static files and live comments (server-sent events).
Customer pages (no login):
$pages
Admin: $BASE/admin/
$logins
API docs: $BASE/api/v1/docs  (a key: make api-key COMPANY=acme)
Stripe emulator: $emulator_status
Health: $BASE/healthz
Emails: ${EMAIL_URL#file://}
$reload_note
Ctrl-C stops everything.
$rule
EOF

# Not exec: the shell stays to run the trap, which stops the server and the emulator (started
# in the background, they may ignore the terminal's Ctrl-C and would keep their ports).
wait "$server"
