"""``{% load i18n %}`` gives our faster ``{% translate %}``, which renders exactly as Django's."""

from __future__ import annotations

import pytest
from django.template import Context, Engine, engines
from django.utils import translation

from core.i18n_tags import TranslateNode

SOURCES = [
    '{% translate "Comments" %}',
    '{% trans "Download PDF" %}',
    '{% translate "Comments" as label %}[{{ label }}]',
    '{% translate "100% <b>bold</b> & more" %}',
    '{% translate "Comments"|upper %}',
    '{% translate "May" context "month name" %}',
    '{% translate "Comments" noop %}',
    "{% translate message %}",
    '{% autoescape off %}{% translate "a < b" %}{% endautoescape %}',
    "{% blocktranslate with n=3 %}Invoice {{ n }}{% endblocktranslate %}",
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_it_renders_as_djangos_own_tags(source: str, language: str) -> None:
    ours = engines["django"].engine
    djangos = Engine(libraries={"i18n": "django.templatetags.i18n"})
    context = {"message": "Comments <i>"}
    with translation.override(language):
        for _ in range(2):  # the second time from what the first remembered
            expected = djangos.from_string("{% load i18n %}" + source).render(Context(context))
            assert ours.from_string("{% load i18n %}" + source).render(Context(context)) == expected


def test_a_fixed_message_is_translated_in_each_language() -> None:
    template = engines["django"].from_string('{% load i18n %}{% translate "Comments" %}')
    rendered = {}
    for language in ("de", "en", "de"):
        with translation.override(language):
            rendered.setdefault(language, set()).add(template.render({}))
    assert rendered == {"de": {"Kommentare"}, "en": {"Comments"}}


def test_the_project_loads_our_tag() -> None:
    template = engines["django"].from_string('{% load i18n %}{% translate "Comments" %}')
    nodes = template.template.nodelist.get_nodes_by_type(TranslateNode)
    assert len(nodes) == 1 and nodes[0].fixed_message == "Comments"
