"""Read-side helpers shared by the API routes: list pagination and ``expand[]``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import StripeError, invalid_param
from .objects import Obj, clean, list_object, public
from .params import Params, get_int, get_list, get_str
from .store import Account

# Fields holding the id of another object, which ``expand[]`` may replace with the object.
_EXPANDABLE = {
    "checkout.session": {"payment_intent", "line_items"},
    "payment_intent": {"latest_charge", "payment_method"},
    "charge": {"payment_intent", "payment_method"},
    "refund": {"charge", "payment_intent"},
    "invoice": {"payments", "customer"},
    "invoice_payment": {"invoice"},
    "credit_note": {"invoice", "customer"},
}


def paginate(objects: Iterable[Obj], params: Params, *, url: str) -> Obj:
    """Stripe's cursor pagination over newest-first objects: ``limit``, ``starting_after``,
    ``ending_before``."""
    limit = get_int(params, "limit", minimum=1)
    if limit is None:
        limit = 10
    if limit > 100:
        raise invalid_param("limit", "This value must be less than or equal to 100.")
    after = get_str(params, "starting_after")
    before = get_str(params, "ending_before")
    items = list(objects)
    ids = [obj["id"] for obj in items]
    if after is not None:
        if after not in ids:
            raise invalid_param("starting_after", f"No such object: '{after}'")
        items = items[ids.index(after) + 1 :]
        page, has_more = items[:limit], len(items) > limit
    elif before is not None:
        if before not in ids:
            raise invalid_param("ending_before", f"No such object: '{before}'")
        items = items[: ids.index(before)]
        page, has_more = items[-limit:], len(items) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return list_object([public(obj) for obj in page], url=url, has_more=has_more)


def expand(account: Account, obj: Obj, params: Params) -> Obj:
    for path in get_list(params, "expand"):
        if not isinstance(path, str):
            raise invalid_param("expand", "Invalid array")
        _expand_path(account, obj, path.split("."), path)
    return obj


def _expand_path(account: Account, obj: Obj, parts: list[str], full: str) -> None:
    head, rest = parts[0], parts[1:]
    if obj.get("object") == "list" and head == "data":
        for item in obj["data"]:
            if rest:
                _expand_path(account, item, rest, full)
        return
    if head not in _EXPANDABLE.get(obj.get("object", ""), set()):
        raise StripeError(f"This property cannot be expanded ({full}).", param="expand")
    value: Any = obj.get(head)
    if head == "line_items" and obj.get("object") == "checkout.session":
        source = account.get(obj["id"], "checkout.session")
        value = list_object(
            clean(source["_line_items"]),
            url=f"/v1/checkout/sessions/{obj['id']}/line_items",
            has_more=False,
        )
    elif head == "payments" and obj.get("object") == "invoice":
        from .billing import invoice_payments_list  # billing registers routes on import

        value = invoice_payments_list(account, account.get(obj["id"], "invoice"))
    elif isinstance(value, str):
        target = account.find(value)
        value = public(target) if target is not None else value
    obj[head] = value
    if rest and isinstance(value, dict):
        _expand_path(account, value, rest, full)
