"""The Jinja2 partials (jinja_templates/, portal.jinja) speak the catalogues' language and escape
as Django's templates do."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from django.template import engines
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "jinja_templates").rglob("*.html"))


def _messages() -> list[str | tuple[str, ...]]:
    found: list[str | tuple[str, ...]] = []
    for path in TEMPLATES:
        with path.open("rb") as template:
            for _line, message, _comments, _context in extract(
                "jinja2.ext:babel_extract",
                template,
                options={"extensions": "jinja2.ext.i18n"},
            ):
                found.append(message)
    return found


def test_the_partials_have_messages() -> None:
    messages = _messages()
    assert len(TEMPLATES) >= 3
    assert "Invoices" in messages
    assert "Pay %(number)s" in messages
    assert ("%(counter)s invoice", "%(counter)s invoices") in messages


@pytest.mark.parametrize("language", ["de", "fr", "es"])
def test_every_message_of_the_partials_is_translated(language: str) -> None:
    po = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    catalog = read_po(po.open("rb"))
    missing = []
    for message in _messages():
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        translated = (
            entry is not None
            and not entry.fuzzy
            and all(entry.string if isinstance(entry.string, tuple) else [entry.string])
        )
        if not translated:
            missing.append(key)
    assert missing == []


def test_it_renders_in_the_active_language() -> None:
    template = engines["jinja2"].from_string(
        '{{ _("Invoices") }} {% trans number="B-1" %}Pay {{ number }}{% endtrans %}'
    )
    with translation.override("de"):
        assert template.render({}) == "Rechnungen B-1 bezahlen"
    with translation.override("en"):
        assert template.render({}) == "Invoices Pay B-1"


@pytest.mark.parametrize(
    ("django", "jinja", "expected"),
    [
        # A message is the template's own text: written as it is.
        ('{% translate "Tom & <b>" %}', '{{ _("Tom & <b>") }}', "Tom & <b>"),
        # A block escapes the values put into it, not its message.
        (
            "{% blocktranslate with name=value %}<b>{{ name }}</b>{% endblocktranslate %}",
            "{% trans name=value %}<b>{{ name }}</b>{% endtrans %}",
            "<b>&lt;script&gt;&amp;</b>",
        ),
    ],
)
def test_it_escapes_as_django_templates_do(django: str, jinja: str, expected: str) -> None:
    context = {"value": "<script>&"}
    assert engines["django"].from_string("{% load i18n %}" + django).render(context) == expected
    assert engines["jinja2"].from_string(jinja).render(context) == expected
