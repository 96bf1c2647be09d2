"""A local, stateful Stripe emulator for tests and ``make run``; pure Python, no Django.

Point the real ``stripe`` SDK at it (``StripeClient(key, base_addresses={"api": base_url})`` or
``stripe.api_base = base_url``) and it answers the v1 calls the app makes, in Stripe's wire
format: Checkout Sessions (with a hosted payment page), PaymentIntents, PaymentMethods
(read-only), Charges (read-only), Refunds and Events, with Stripe's errors and idempotency.
Webhooks are signed exactly as Stripe signs them and delivered to the endpoints registered
through the control API (``/_emulator/``, see ``control.py``), which can also duplicate,
reorder, delay, hold and parallelise deliveries.

Accounts and keys
-----------------
Every distinct test secret key is its own account: ``sk_test_<suffix>`` owns only the objects
created with it, and any other key gets 404 for them. A well-formed key
(``sk_test_`` + letters, digits, ``_``) needs no set-up: its account starts empty on first
use. ``rk_test_<suffix>`` (restricted) and ``pk_test_<suffix>`` (publishable) name the *same*
account as ``sk_test_<suffix>``: ``sk_test_demo`` <-> ``pk_test_demo``. A publishable key may only
retrieve and confirm a PaymentIntent, given its client secret (what Stripe.js does). Anything
else (no key, ``sk_live_...``, a malformed or revoked key) gets 401, as on Stripe.

Entry points
------------
``server.start_in_thread(port=0) -> (server, base_url)``, ``server.reset()``,
``server.shutdown()``; ``server.serve(port)`` for ``python -m stripe_emulator [--port 8420]``
(``__main__.py``) and its alias ``manage.py stripe_emulator``.
Test cards are listed in ``cards.py``; the Stripe.js stand-in in ``stripe_js.py``.
"""
