"""Django's ``i18n`` template tags, with a ``{% translate %}`` that looks a fixed message up
directly (settings: TEMPLATES' ``libraries`` maps ``{% load i18n %}`` here).

For ``{% translate "Comments" %}`` Django's node makes a lazy string of the message at every
render and converts it at once (about 4.7 us a tag; a customer page has 30 to 50 of them). A
message written in the template, with no filter and no context, is now translated, escaped
and unescaped of doubled percent signs exactly as Django's node does, once per language's
catalogue and process (then about 1 us); every other form of the tag is Django's own, and a
catalogue put in place of the language's (a company's own strings in the embed) is asked
every time.
"""

from __future__ import annotations

from django import template
from django.template.base import FilterExpression, Parser, Token, render_value_in_context
from django.template.context import Context
from django.templatetags import i18n
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.translation import gettext, trans_real

register = template.Library()
register.tags.update(i18n.register.tags)
register.filters.update(i18n.register.filters)


class TranslateNode(i18n.TranslateNode):
    def __init__(
        self,
        filter_expression: FilterExpression,
        noop: bool,
        asvar: str | None = None,
        message_context: FilterExpression | None = None,
    ) -> None:
        super().__init__(filter_expression, noop, asvar, message_context)
        # Known when the template is compiled.
        self.fixed_message = self._fixed_message()

    def render(self, context: Context) -> str:
        message = self.fixed_message
        if message is None:
            return str(super().render(context))
        catalog = trans_real.catalog()
        if isinstance(catalog, trans_real.DjangoTranslation):
            key = (catalog, context.autoescape, message)
            value = _rendered.get(key)
            if value is None:
                value = _rendered[key] = _render(message, context)
        else:
            # Another catalogue in place (a company's own strings in the embed, none at all):
            # looked up every time, as Django does.
            value = _render(message, context)
        if self.asvar:
            context[self.asvar] = value
            return ""
        return value

    def _fixed_message(self) -> str | None:
        """The message id as Django's Variable would look it up, when it is written in the
        template and nothing else applies (no filter, no context, not noop)."""
        expression = self.filter_expression
        variable = expression.var
        if (
            self.noop
            or self.message_context is not None
            or expression.filters
            or variable.lookups is not None
            or not isinstance(variable.literal, str)
        ):
            return None
        literal = variable.literal
        message = literal.replace("%", "%%")
        return SafeString(message) if isinstance(literal, SafeData) else message


# What a fixed message renders as, per catalogue (one per language and process, never changed
# once loaded) and escaping; the messages are those written in the templates (a bounded set).
_rendered: dict[tuple[trans_real.DjangoTranslation, bool, str], str] = {}


def _render(message: str, context: Context) -> str:
    value = render_value_in_context(gettext(message), context)
    # As Django's node: percent signs doubled in template text come back single, and a value
    # that was safe (escaped, or a message written in the template) stays so.
    is_safe = isinstance(value, SafeData)
    value = value.replace("%%", "%")
    return mark_safe(value) if is_safe else value  # noqa: S308


@register.tag("translate")
@register.tag("trans")
def do_translate(parser: Parser, token: Token) -> TranslateNode:
    node = i18n.do_translate(parser, token)
    return TranslateNode(node.filter_expression, node.noop, node.asvar, node.message_context)
