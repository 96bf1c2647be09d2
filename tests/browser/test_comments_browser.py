"""The comment thread in two real browsers: live over server-sent events served by a real ASGI
server, and over polling when EventSource is missing.

How it is served here, as in production: pytest-django's ``live_server`` serves the pages, the
posts and the polling endpoint (the WSGI side); a granian ASGI process, started on a free port
against the same test database and Redis, serves only the stream, and the page points its
EventSource there through ``COMMENTS_STREAM_BASE_URL`` (allowed in CSP ``connect-src``). A post
on the live server publishes to Redis; granian's stream hears it and pushes the comment.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests import factories
from tests.browser.conftest import ARTIFACTS, DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARRIVAL_MS = 2000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stream_server(live_server: Any, settings: Any) -> Iterator[str]:
    """A granian ASGI process serving the app on its own port; the pages stream from it."""
    if connection.vendor != "postgresql" or not django_settings.REDIS_URL:
        pytest.skip("the ASGI stream process needs a shared database and Redis (CI has both)")
    db = connection.settings_dict
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": django_settings.REDIS_URL,
        "SECRET_KEY": django_settings.SECRET_KEY,
        "DJANGO_SETTINGS_MODULE": "portal_project.settings",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "comments-granian.log").open("w")
    granian = Path(sys.executable).with_name("granian")
    process = subprocess.Popen(
        [
            str(granian),
            "--interface",
            "asginl",  # ASGI without lifespan events (Django has none)
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-ws",
            "portal_project.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"granian did not start; see {log.name}")
                time.sleep(0.1)
        origin = f"http://127.0.0.1:{port}"
        settings.COMMENTS_STREAM_BASE_URL = origin
        policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
        policy["DIRECTIVES"]["connect-src"].append(origin)
        settings.CONTENT_SECURITY_POLICY = policy
        # The live server speaks plain HTTP: a Secure CSRF cookie would never come back.
        settings.CSRF_COOKIE_SECURE = False
        yield origin
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def plain_http(settings: Any) -> None:
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def thread_url(live_server: Any) -> str:
    company = factories.make_company(slug="acme", name="Acme", plan="pro")
    customer = factories.make_customer(company, name="Ada Lovelace", email="ada@example.com")
    invoice = factories.make_invoice(company, customer)
    return f"{live_server.url}/invoice/{factories.share_token(invoice)}"


def _open(browser: Any, url: str, *, without_eventsource: bool = False) -> Any:
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    if without_eventsource:
        page.add_init_script("delete window.EventSource")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    page.goto(url)
    return page


def _post(page: Any, body: str, name: str = "Ada", email: str = "ada@example.com") -> None:
    page.fill("#comment-name", name)
    page.fill("#comment-email", email)
    page.fill("#comment-body", body)
    page.click(".comment-form button[type=submit]")


def _arrives(page: Any, text: str) -> float:
    """Seconds until a comment with this text shows in the page (fails after 2 s)."""
    from playwright.sync_api import expect

    started = time.monotonic()
    expect(page.locator(".comment-list .comment-body").last).to_have_text(text, timeout=ARRIVAL_MS)
    return time.monotonic() - started


def test_it_shows_a_comment_in_a_second_browser_over_sse(
    browser: Any, stream_server: str, thread_url: str, screenshot: Any
) -> None:
    writer = _open(browser, thread_url)
    reader = _open(browser, thread_url)
    # Both pages hold an open stream to the ASGI server before anything is posted.
    for page in (writer, reader):
        page.wait_for_selector('[data-comments][data-transport="sse"]')
    _post(writer, "Could you split this into two payments?")
    _arrives(reader, "Could you split this into two payments?")
    assert reader.get_attribute("[data-comments]", "data-transport") == "sse"
    screenshot(reader, "reader")
    writer.context.close()
    reader.context.close()


def test_it_shows_a_comment_in_a_second_browser_by_polling_without_eventsource(
    browser: Any, live_server: Any, plain_http: None, thread_url: str
) -> None:
    writer = _open(browser, thread_url, without_eventsource=True)
    reader = _open(browser, thread_url, without_eventsource=True)
    assert reader.get_attribute("[data-comments]", "data-transport") == "polling"
    _post(writer, "Polling works too.")
    _arrives(reader, "Polling works too.")
    writer.context.close()
    reader.context.close()


def test_it_renders_hostile_comments_inert_and_remembers_the_writer(
    browser: Any, stream_server: str, thread_url: str
) -> None:
    writer = _open(browser, thread_url)
    reader = _open(browser, thread_url)
    reader.wait_for_selector('[data-comments][data-transport="sse"]')
    hostile = (
        '<img src=x onerror="alert(1)"> <script>alert(2)</script> javascript:alert(3) '
        "see https://example.com/a?b=1"
    )
    _post(writer, hostile, name='<b onmouseover="alert(4)">Eve</b>')
    _arrives(reader, hostile)
    for page in (writer, reader):
        thread = page.locator(".comment-list")
        assert thread.locator("img, script, b").count() == 0
        links = thread.locator("a")
        assert links.count() == 1
        assert links.first.get_attribute("href") == "https://example.com/a?b=1"
        assert links.first.get_attribute("rel") == "nofollow noopener noreferrer"
        assert page.locator(".comment-author").last.text_content() == (
            '<b onmouseover="alert(4)">Eve</b>'
        )
        page.mouse.move(10, 10)
        assert page.dialogs == []
    # The same device fills in the name and email next time.
    writer.reload()
    assert writer.input_value("#comment-name") == '<b onmouseover="alert(4)">Eve</b>'
    assert writer.input_value("#comment-email") == "ada@example.com"
    # ...and the server-rendered thread is just as inert.
    assert writer.locator(".comment-list img, .comment-list script").count() == 0
    writer.context.close()
    reader.context.close()


def test_it_walks_a_customer_through_the_emailed_code_and_the_authenticator_app(
    browser: Any, live_server: Any, plain_http: None, mailoutbox: list[Any]
) -> None:
    import base64
    import re

    from django_otp.oath import TOTP

    company = factories.make_company(slug="strict", name="Strict Ltd", plan="pro")
    company.comment_write_mode = "email_code"
    company.comment_require_totp = True
    company.save(update_fields=["comment_write_mode", "comment_require_totp"])
    customer = factories.make_customer(company, name="Ada Lovelace", email="ada@example.com")
    invoice = factories.make_invoice(company, customer)
    page = _open(browser, f"{live_server.url}/invoice/{factories.share_token(invoice)}")

    assert page.locator("[data-comment-form]").is_hidden()
    page.click('[data-action="request-code"]')
    page.wait_for_selector("[data-comment-message]:not(:empty)")
    code = re.search(r"\b(\d{6})\b", mailoutbox[-1].body)
    assert code and mailoutbox[-1].to == ["ada@example.com"]
    page.fill("#comment-code", code.group(1))
    page.click('[data-action="verify-code"]')

    # Verified: now the company wants an authenticator app, enrolled from a QR code.
    page.click('[data-action="enrol"]')
    page.wait_for_selector("[data-enrol-img][src^='data:image/svg+xml']")
    secret = page.text_content("[data-enrol-secret]") or ""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))

    def totp(steps_ahead: int) -> str:
        generator = TOTP(key)
        generator.time = time.time() + 30 * steps_ahead
        return f"{generator.token():06d}"

    confirm_code = totp(0)
    page.fill("#comment-enrol-code", confirm_code)
    page.click('[data-action="confirm-enrol"]')
    page.wait_for_selector("[data-comment-form]:not([hidden])")
    assert page.locator("#comment-email").count() == 0  # the address on file is used

    # Replaying the code used to confirm is refused; the next one is accepted.
    page.fill("#comment-body", "Verified question")
    page.fill("#comment-totp", confirm_code)
    page.click(".comment-form button[type=submit]")
    page.wait_for_selector(".comment-message-error")
    time.sleep(1.1)  # django-otp's back-off: one second after one wrong code
    page.fill("#comment-totp", totp(1))
    page.click(".comment-form button[type=submit]")
    _arrives(page, "Verified question")
    assert page.locator(".comment-author").last.text_content() == "Ada Lovelace"
    page.context.close()
