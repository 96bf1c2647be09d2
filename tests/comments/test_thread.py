"""Reading the thread: polling, server-sent events with resume, escaping, attention, isolation,
staff replies in the admin."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient, override_settings
from django_otp.oath import TOTP

from invoices.models import Company, Customer, Invoice
from portal.comments import services
from portal.comments.models import Comment, CustomerTotpDevice
from tests import factories
from tests.comments.conftest import emailed_code


def post(invoice: Invoice, body: str = "Hello", name: str = "Ada") -> Comment:
    return services.comment_post(invoice=invoice, name=name, email="ada@example.com", body=body)


# Polling ----------------------------------------------------------------------------------


def test_it_lists_comments_after_an_id(
    client: Any, invoice: Invoice, token: str, django_assert_max_num_queries: Any
) -> None:
    for body in ("one", "two", "three"):
        post(invoice, body)
    # Queries: the invoice by its share link (with company and customer), the comments.
    with django_assert_max_num_queries(2):
        response = client.get(f"/invoice/{token}/comments?after=1")
    assert response.status_code == 200
    assert [c["body"] for c in response.json()["comments"]] == ["two", "three"]
    assert [c["id"] for c in response.json()["comments"]] == [2, 3]
    # Only the page's script reads it, in the "no-store" request mode; a "no-store" header
    # would keep the invoice page out of Chromium's back/forward cache.
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("after", ["-1", "%C2%B2"])  # "²": str.isdigit() but not int()
@pytest.mark.parametrize("accept", ["application/json", "*/*"])
def test_it_refuses_a_malformed_after(client: Any, token: str, after: str, accept: str) -> None:
    # JSON whatever the Accept header: the polling endpoint is a JSON endpoint (contract).
    response = client.get(f"/invoice/{token}/comments?after={after}", HTTP_ACCEPT=accept)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["field"] == "after"


def test_it_keeps_threads_apart_across_invoices_and_companies(
    client: Any, tenant: Company, other_tenant: Company, invoice: Invoice, token: str
) -> None:
    post(invoice, "mine")
    sibling = factories.make_invoice(tenant, invoice.customer)
    post(sibling, "sibling")
    foreign = factories.make_invoice(other_tenant)
    post(foreign, "foreign")
    bodies = [c["body"] for c in client.get(f"/invoice/{token}/comments").json()["comments"]]
    assert bodies == ["mine"]
    # Numbers are per invoice: nothing about other threads leaks through the ids.
    assert Comment.objects.get(body="foreign").number == 1
    foreign_token = factories.share_token(foreign)
    foreign_bodies = [
        c["body"] for c in client.get(f"/invoice/{foreign_token}/comments").json()["comments"]
    ]
    assert foreign_bodies == ["foreign"]


def test_it_stops_answering_once_the_link_is_revoked(
    client: Any, invoice: Invoice, token: str
) -> None:
    from invoices.services import share_link_revoke

    share_link_revoke(invoice=invoice)
    assert client.get(f"/invoice/{token}/comments").status_code == 404


# Server-sent events -------------------------------------------------------------------------


class _Viewer:
    """Reads a streaming response the way Django's ASGI handler does: one task iterates it,
    and a viewer leaving cancels that task (which is what closes the stream server-side)."""

    def __init__(self, response: Any) -> None:
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump(response))

    async def _pump(self, response: Any) -> None:
        buffer = ""
        async for chunk in response.streaming_content:
            buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                await self.frames.put(frame)
        await self.frames.put(None)

    async def read(self, count: int, timeout: float = 5.0) -> list[str]:
        """The next ``count`` frames (comments, heartbeats, the retry hint)."""
        frames = []
        for _ in range(count):
            frame = await asyncio.wait_for(self.frames.get(), timeout)
            if frame is None:
                raise StopAsyncIteration
            frames.append(frame)
        return frames

    async def leave(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def _open_stream(url: str, **headers: str) -> _Viewer:
    response = await AsyncClient().get(url, headers=headers)
    assert response.status_code == 200
    return _Viewer(response)


@pytest.mark.parametrize("fan_out", ["redis", "in-process"])
def test_it_streams_comments_resuming_after_last_event_id(
    invoice: Invoice,
    token: str,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    fan_out: str,
) -> None:
    if fan_out == "in-process":
        settings.REDIS_URL = ""  # the fallback without Redis (SQLite, make run)
    elif not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    for body in ("one", "two", "three"):
        post(invoice, body)

    def post_live() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            post(invoice, "live <b>news</b>")

    async def run() -> list[str]:
        response = await AsyncClient().get(
            f"/invoice/{token}/comments/stream", headers={"Last-Event-ID": "1"}
        )
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/event-stream")
        assert response["Cache-Control"] == "no-store"
        viewer = _Viewer(response)
        frames = await viewer.read(3)
        # A comment saved while the stream waits is pushed through the fan-out.
        await sync_to_async(post_live)()
        frames += await viewer.read(1)
        await viewer.leave()
        return frames

    frames = async_to_sync(run)()
    assert frames[0] == "retry: 3000"
    ids = [line for frame in frames for line in frame.splitlines() if line.startswith("id: ")]
    assert ids == ["id: 2", "id: 3", "id: 4"]
    data = json.loads(frames[-1].split("data: ", 1)[1])
    assert data["body"] == "live <b>news</b>"  # raw text; the page builds it with textContent
    assert "event: comment" in frames[1]


def test_it_shares_one_redis_subscription_among_the_streams_of_a_process(
    tenant: Company, invoice: Invoice, token: str, django_capture_on_commit_callbacks: Any
) -> None:
    import redis
    from django.conf import settings

    from portal.comments import realtime

    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    other = factories.make_invoice(tenant)
    other_token = factories.share_token(other)
    client = redis.Redis.from_url(settings.REDIS_URL)

    def post_live() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            post(invoice, "to both")

    async def run() -> tuple[dict[bytes, int], list[list[str]]]:
        viewers = [
            await _open_stream(f"/invoice/{t}/comments/stream") for t in (token, token, other_token)
        ]
        for viewer in viewers:
            await viewer.read(1)  # the retry hint
        await asyncio.sleep(0.2)  # every stream reaches its subscription
        channels = [realtime.channel_name(invoice.pk), realtime.channel_name(other.pk)]
        subscribers = dict(client.pubsub_numsub(*channels))
        await sync_to_async(post_live)()
        received = [await viewer.read(1) for viewer in viewers[:2]]
        for viewer in viewers:
            await viewer.leave()
        assert realtime._hubs == {}  # the last viewer out closed the connection
        return subscribers, received

    subscribers, received = async_to_sync(run)()
    # One connection per process subscribes once per invoice, however many viewers it has.
    assert subscribers == {
        realtime.channel_name(invoice.pk).encode(): 1,
        realtime.channel_name(other.pk).encode(): 1,
    }
    assert all('"body": "to both"' in frames[0] for frames in received)


def test_it_sends_heartbeats_catches_up_on_lost_news_and_ends_when_the_link_is_revoked(
    invoice: Invoice, token: str, monkeypatch: Any
) -> None:
    from invoices.services import share_link_revoke
    from portal.comments import views

    monkeypatch.setattr(views, "HEARTBEAT_SECONDS", 0.2)

    async def run() -> list[str]:
        viewer = await _open_stream(f"/invoice/{token}/comments/stream")
        frames = await viewer.read(2)
        # Saved without its news reaching the stream (the transaction never commits here):
        # the next heartbeat's re-read still delivers it.
        await sync_to_async(post)(invoice, "missed news")
        while (frame := (await viewer.read(1))[0]) == ": heartbeat":
            pass
        frames.append(frame)
        await sync_to_async(share_link_revoke)(invoice=invoice)
        # At most a heartbeat already on its way, then the stream ends.
        with pytest.raises(StopAsyncIteration):
            for _ in range(3):
                assert await viewer.read(1) == [": heartbeat"]
        return frames

    frames = async_to_sync(run)()
    assert frames[0] == "retry: 3000"
    assert frames[1] == ": heartbeat"
    assert '"body": "missed news"' in frames[2]


def test_it_streams_from_the_start_after_a_malformed_last_event_id(
    invoice: Invoice, token: str
) -> None:
    post(invoice, "first")

    async def run() -> list[str]:
        # "²" passes str.isdigit() but not int(): it used to end in a ValueError (500).
        viewer = await _open_stream(f"/invoice/{token}/comments/stream", **{"Last-Event-ID": "²"})
        frames = await viewer.read(2)
        await viewer.leave()
        return frames

    frames = async_to_sync(run)()
    assert frames[0] == "retry: 3000"
    assert frames[1].startswith("id: 1\n")


def test_it_reads_the_database_when_a_pub_sub_message_cannot_be_read(
    invoice: Invoice, token: str
) -> None:
    import redis
    from django.conf import settings

    from portal.comments import realtime

    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    client = redis.Redis.from_url(settings.REDIS_URL)
    channel = realtime.channel_name(invoice.pk)

    async def run() -> list[str]:
        viewer = await _open_stream(f"/invoice/{token}/comments/stream")
        frames = await viewer.read(1)  # the retry hint
        for _ in range(50):  # until the stream's subscription is in place
            if dict(client.pubsub_numsub(channel)).get(channel.encode()):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # ...and its first read of the database is done
        # Saved without its news (the test transaction never commits), then a message the
        # hub cannot parse: the stream must look in the database now, not at the next
        # heartbeat (15 s, longer than read() waits).
        await sync_to_async(post)(invoice, "unannounced")
        client.publish(channel, b"not json")
        frames += await viewer.read(1)
        await viewer.leave()
        return frames

    frames = async_to_sync(run)()
    assert frames[1].startswith("id: 1\n")
    assert '"body": "unannounced"' in frames[1]


def test_it_resumes_a_reader_more_than_a_page_behind_at_once(invoice: Invoice, token: str) -> None:
    from portal.comments.selectors import PAGE_SIZE

    count = PAGE_SIZE + 5
    Comment.objects.bulk_create(
        Comment(
            company_id=invoice.company_id,
            invoice=invoice,
            number=n,
            role="customer",
            author_name="Ada",
            verification="link",
            body=f"n{n}",
        )
        for n in range(1, count + 1)
    )

    async def run() -> list[str]:
        viewer = await _open_stream(f"/invoice/{token}/comments/stream", **{"Last-Event-ID": "0"})
        # Each frame within read()'s 5 s: the page after the first must not wait for the
        # next heartbeat (15 s).
        frames = await viewer.read(1 + count)
        await viewer.leave()
        return frames

    frames = async_to_sync(run)()
    assert frames[-1].startswith(f"id: {count}\n")
    assert [f.split("\n", 1)[0] for f in frames[1:]] == [f"id: {n}" for n in range(1, count + 1)]


def test_it_does_not_hear_a_deployment_on_another_redis_database(
    invoice: Invoice, token: str, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    import redis
    from redis.connection import parse_url

    from portal.comments import realtime

    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    ours = parse_url(settings.REDIS_URL).get("db", 0)
    # Only the database number matters to the channel name (the server is the same).
    with override_settings(REDIS_URL=f"redis://127.0.0.1:6379/{(ours + 1) % 16}"):
        theirs = realtime.channel_name(invoice.pk)  # the same invoice id in their database
    client = redis.Redis.from_url(settings.REDIS_URL)
    foreign = {"id": 1, "author": "Eve", "role": "customer", "body": "another deployment's"}

    def post_live() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            post(invoice, "ours")

    async def run() -> list[str]:
        viewer = await _open_stream(f"/invoice/{token}/comments/stream")
        frames = await viewer.read(1)  # the retry hint
        await asyncio.sleep(0.3)  # the stream subscribes and reads the database
        # Pub/sub ignores Redis database numbers: their news reached our streams.
        client.publish(theirs, json.dumps(foreign))
        await asyncio.sleep(0.2)
        await sync_to_async(post_live)()
        frames += await viewer.read(1)
        await viewer.leave()
        return frames

    frames = async_to_sync(run)()
    assert '"body": "ours"' in frames[1]
    assert "another deployment" not in frames[1]


def test_it_ends_the_stream_cleanly_when_redis_is_unreachable(token: str, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    async def run() -> list[str]:
        viewer = await _open_stream(f"/invoice/{token}/comments/stream")
        frames = await viewer.read(1)
        with pytest.raises(StopAsyncIteration):
            await viewer.read(1)
        return frames

    # The retry hint, then a clean end: the page polls until EventSource reconnects.
    assert async_to_sync(run)() == ["retry: 3000"]


def test_it_tells_eventsource_to_stop_when_the_stream_is_served_over_wsgi(
    client: Any, token: str
) -> None:
    # The test client is a WSGI-style request: no stream here, the page falls back to polling.
    response = client.get(f"/invoice/{token}/comments/stream")
    assert response.status_code == 204
    assert response["Cache-Control"] == "no-store"


def test_it_answers_not_found_on_the_stream_of_another_invoice_token(
    client: Any, token: str
) -> None:
    assert client.get(f"/invoice/{token[:-2]}xx/comments/stream").status_code == 404


# Escaping ---------------------------------------------------------------------------------

XSS = (
    '<script>alert(1)</script> <img src=x onerror="alert(2)"> javascript:alert(3) '
    'https://example.com/a?b=1&c="><svg/onload=alert(4)> '
    "https://ok.example/path."
)


def test_it_renders_comments_inert_and_links_safely(
    client: Any, invoice: Invoice, token: str
) -> None:
    post(invoice, XSS, name='<img src=x onerror="alert(5)">')
    html = client.get(f"/invoice/{token}").content.decode()
    thread = html.split('id="comments"', 1)[1]
    assert "<script>alert" not in thread
    assert "<img src=x" not in thread
    assert "<svg" not in thread
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in thread
    assert "&lt;img src=x onerror=&quot;alert(5)&quot;&gt;" in thread
    # Only http(s) URLs become links, cut before anything that could end the attribute, and
    # trailing punctuation stays text.
    assert 'href="https://ok.example/path"' in thread
    assert 'href="https://example.com/a?b=1&amp;c="' in thread
    assert 'href="javascript' not in thread
    assert thread.count('rel="nofollow noopener noreferrer"') == 2


# Needs attention, staff replies, resolution ---------------------------------------------------


def test_it_flags_the_invoice_on_a_customer_comment_and_not_on_a_staff_reply(
    invoice: Invoice, staff: Any
) -> None:
    assert not invoice.needs_attention
    services.comment_reply(invoice=invoice, user=staff, body="Hello from us")
    invoice.refresh_from_db()
    assert not invoice.needs_attention
    post(invoice)
    invoice.refresh_from_db()
    assert invoice.needs_attention


def test_it_lets_a_manager_resolve_but_not_a_viewer_or_an_outsider(
    invoice: Invoice, staff: Any, viewer: Any, outsider: Any
) -> None:
    post(invoice)
    for person in (viewer, outsider):
        with pytest.raises(services.CommentError):
            services.invoice_attention_resolve(invoice=invoice, user=person)
        with pytest.raises(services.CommentError):
            services.comment_reply(invoice=invoice, user=person, body="hi")
    invoice.refresh_from_db()
    assert invoice.needs_attention
    assert services.invoice_attention_resolve(invoice=invoice, user=staff)
    invoice.refresh_from_db()
    assert not invoice.needs_attention


def test_it_replies_and_resolves_from_the_invoice_admin_page(
    client: Any, invoice: Invoice, token: str, staff: Any
) -> None:
    post(invoice, "Why so much?")
    client.force_login(staff)
    url = f"/admin/invoices/invoice/{invoice.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Why so much?" in page.content.decode()
    form = page.context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in form.initial.items()
        if name in form.fields
    }
    data.update({"comment_reply": "Because of the extra hours.", "comment_resolve": "on"})
    # Every inline on the page (lines, and whatever else other apps show) left untouched.
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    for name, value in list(data.items()):
        if hasattr(value, "pk"):
            data[name] = value.pk
    response = client.post(url, data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.formset.errors for f in response.context["inline_admin_formsets"]],
        [f.formset.non_form_errors() for f in response.context["inline_admin_formsets"]],
    )
    invoice.refresh_from_db()
    assert not invoice.needs_attention
    reply = Comment.objects.get(number=2, invoice=invoice)
    assert reply.role == "staff"
    assert reply.staff_user == staff
    client.logout()
    public = client.get(f"/invoice/{token}/comments?after=1").json()["comments"]
    assert public[0]["body"] == "Because of the extra hours."
    assert public[0]["role"] == "staff"


def test_it_shows_the_attention_count_and_marker_on_the_list(
    client: Any, tenant: Company, invoice: Invoice, staff: Any, other_tenant: Company
) -> None:
    post(invoice)
    post(factories.make_invoice(other_tenant))  # another company's: not counted
    client.force_login(staff)
    html = client.get("/admin/invoices/invoice/").content.decode()
    assert "Needs attention (1)" in html
    assert 'class="needs-attention"' in html
    filtered = client.get("/admin/invoices/invoice/?needs_attention=yes")
    assert list(filtered.context["cl"].result_list) == [invoice]


def test_it_marks_resolved_in_bulk(client: Any, invoice: Invoice, staff: Any) -> None:
    post(invoice)
    client.force_login(staff)
    client.post(
        "/admin/invoices/invoice/",
        {"action": "mark_resolved", "_selected_action": [invoice.pk]},
    )
    invoice.refresh_from_db()
    assert not invoice.needs_attention


# Authenticator app ------------------------------------------------------------------------


def _code(device: CustomerTotpDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def test_it_requires_a_fresh_authenticator_code_when_the_company_asks_for_it(
    client: Any,
    tenant: Company,
    invoice: Invoice,
    token: str,
    mailoutbox: list[Any],
    on_commit: Any,
) -> None:
    tenant.comment_require_totp = True
    tenant.save(update_fields=["comment_require_totp"])

    def call(path: str, payload: dict[str, str] | None = None) -> Any:
        return client.post(
            f"/invoice/{token}/comments{path}",
            data=json.dumps(payload or {}),
            content_type="application/json",
            HTTP_ACCEPT="application/json",
        )

    writer = {"name": "Ada", "email": "ada@example.com", "body": "hi"}
    assert call("", writer).json()["error"]["code"] == "totp_enrolment_required"
    # Enrolling needs the mailbox proof first.
    assert call("/totp/enrol").status_code == 403
    on_commit(call, "/code")
    assert call("/verify", {"code": emailed_code(mailoutbox)}).status_code == 200
    enrol = call("/totp/enrol").json()
    assert enrol["qr"].startswith("data:image/svg+xml;base64,")
    assert enrol["otpauth_url"].startswith("otpauth://totp/")
    device = CustomerTotpDevice.objects.get()
    assert (
        call(
            "/totp/confirm", {"totp_code": "000000" if _code(device) != "000000" else "111111"}
        ).status_code
        == 400
    )
    device.refresh_from_db()
    device.throttle_reset()
    confirm_code = _code(device)
    confirm = call("/totp/confirm", {"totp_code": confirm_code})
    assert confirm.status_code == 200
    assert confirm.json()["state"]["totp_enrolled"]

    assert call("", writer).json()["error"]["code"] == "totp_required"
    # The code just used to confirm cannot be replayed.
    replay = call("", writer | {"totp_code": confirm_code})
    assert replay.json()["error"]["code"] == "totp_invalid"
    device.refresh_from_db()
    device.throttle_reset()
    fresh_code = _code(device, steps_ahead=1)
    fresh = call("", writer | {"totp_code": fresh_code})
    assert fresh.status_code == 201
    assert Comment.objects.get().totp_confirmed
    # Nor the fresh one, a second time.
    device.refresh_from_db()
    device.throttle_reset()
    again = call("", writer | {"totp_code": fresh_code})
    assert again.json()["error"]["code"] == "totp_invalid"
    # And a confirmed app cannot be swapped from the page.
    assert call("/totp/enrol").json()["error"]["code"] == "already_enrolled"


def test_it_refuses_an_authenticator_code_of_non_ascii_digits(
    tenant: Company, invoice: Invoice, customer: Customer
) -> None:
    tenant.comment_require_totp = True
    tenant.save(update_fields=["comment_require_totp"])
    CustomerTotpDevice.objects.create(company=tenant, customer=customer, confirmed=True)
    with pytest.raises(services.CommentError) as refused:
        # "²" passes str.isdigit() but not int(): it used to end in a ValueError (500).
        services.comment_post(
            invoice=invoice, name="Ada", email="ada@example.com", body="x", totp_code="²" * 6
        )
    assert (refused.value.code, refused.value.status) == ("totp_invalid", 400)
    assert not Comment.objects.exists()


def test_it_rate_limits_posting(client: Any, token: str) -> None:
    statuses = [
        client.post(
            f"/invoice/{token}/comments",
            data=json.dumps({"name": "A", "email": "a@example.com", "body": f"n{i}"}),
            content_type="application/json",
        ).status_code
        for i in range(11)
    ]
    assert statuses == [201] * 10 + [429]


def test_it_keeps_the_thread_off_other_customers_invoices(
    client: Any, tenant: Company, customer: Customer, invoice: Invoice
) -> None:
    other = factories.make_invoice(tenant)
    post(other, "someone else's question")
    html = client.get(f"/invoice/{factories.share_token(invoice)}").content.decode()
    assert "someone else" not in html


def test_it_shows_the_thread_read_only_to_a_viewer_and_hides_it_from_an_outsider(
    client: Any, invoice: Invoice, viewer: Any, outsider: Any
) -> None:
    post(invoice, "Read me")
    url = f"/admin/invoices/invoice/{invoice.pk}/change/"
    client.force_login(viewer)
    page = client.get(url)
    assert page.status_code == 200
    assert "Read me" in page.content.decode()
    assert 'name="comment_reply"' not in page.content.decode()
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_it_offers_the_write_modes_on_the_invoice_admin_page(
    client: Any, invoice: Invoice, staff: Any
) -> None:
    client.force_login(staff)
    form = client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").context["adminform"].form
    choices = [value for value, _label in form.fields["comment_write_mode"].choices]
    assert choices == ["", "link", "email_code", "customer_session"]


def test_it_backs_off_after_a_wrong_authenticator_code(
    tenant: Company, invoice: Invoice, mailoutbox: list[Any], on_commit: Any
) -> None:
    tenant.comment_require_totp = True
    tenant.save(update_fields=["comment_require_totp"])
    on_commit(services.email_code_request, invoice=invoice)
    opened = services.email_code_verify(invoice=invoice, code=emailed_code(mailoutbox))
    device = services.totp_enrol(invoice=invoice, session=opened.session)
    services.totp_confirm(invoice=invoice, session=opened.session, code=_code(device))
    device.refresh_from_db()
    wrong = "000000" if _code(device) != "000000" else "111111"
    with pytest.raises(services.CommentError) as first:
        services.comment_post(
            invoice=invoice, name="Ada", email="ada@example.com", body="x", totp_code=wrong
        )
    assert first.value.code == "totp_invalid"
    # Right after a wrong code even the right one waits (django-otp's exponential back-off).
    with pytest.raises(services.CommentError) as second:
        services.comment_post(
            invoice=invoice,
            name="Ada",
            email="ada@example.com",
            body="x",
            totp_code=_code(device, steps_ahead=1),
        )
    assert (second.value.code, second.value.status) == ("too_many_attempts", 429)
    assert not Comment.objects.exists()


def test_it_lets_a_manager_reset_a_customers_authenticator_app_in_the_admin(
    client: Any,
    tenant: Company,
    customer: Customer,
    invoice: Invoice,
    staff: Any,
    viewer: Any,
    outsider: Any,
    mailoutbox: list[Any],
    on_commit: Any,
) -> None:
    from invoices.models import AuditEvent

    device = CustomerTotpDevice.objects.create(company=tenant, customer=customer, confirmed=True)
    url = "/admin/comments/customertotpdevice/"
    reset = {"action": "reset", "_selected_action": [device.pk]}

    client.force_login(outsider)
    assert list(client.get(url).context["cl"].result_list) == []
    client.post(url, reset)
    client.force_login(viewer)
    listed = client.get(url)
    assert list(listed.context["cl"].result_list) == [device]
    assert device.key not in listed.content.decode()  # the secret is never shown
    client.post(url, reset)
    assert CustomerTotpDevice.objects.filter(pk=device.pk).exists()

    client.force_login(staff)
    client.post(url, reset)
    assert not CustomerTotpDevice.objects.exists()
    assert AuditEvent.objects.filter(company=tenant, action="comment.totp_reset").count() == 1

    # The customer can set up a new app (before the reset: "already_enrolled").
    on_commit(services.email_code_request, invoice=invoice)
    opened = services.email_code_verify(invoice=invoice, code=emailed_code(mailoutbox))
    assert not services.totp_enrol(invoice=invoice, session=opened.session).confirmed
