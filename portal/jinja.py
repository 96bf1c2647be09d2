"""The Jinja2 environment of the templates in ``jinja_templates/``: the parts of the customer pages
rendered most often, where Django's engine cost the most (the account home's invoice list, a
node per cell of every row, and the pay action). Jinja2 compiles a template to Python and
renders them in about half the time.

Rendered with ``render_to_string(name, context, using="jinja2")``. Their messages are in the
same catalogues as Django's templates and written alike: ``{{ _("…") }}`` for
``{% translate %}``, ``{% trans name=value %}`` for ``{% blocktranslate with %}`` (the same
msgids), translated in the active language; a message is written as it is, the values put into
it are escaped (newstyle gettext, as Django's tags do).
"""

from __future__ import annotations

from typing import Any

from django.templatetags.static import static
from django.utils import translation
from jinja2 import Environment

from payments.templatetags.payments_tags import pay_amount_example, pay_card_config
from portal.templatetags.portal_format import amount_input, amount_typed


def environment(**options: Any) -> Environment:
    """The environment Django's Jinja2 backend renders with (TEMPLATES' "environment")."""
    # Always escaping (Django's backend passes it on too); a file's last newline kept, as
    # Django's engine writes it.
    options.pop("autoescape", None)
    env = Environment(
        autoescape=True, extensions=["jinja2.ext.i18n"], keep_trailing_newline=True, **options
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        translation.gettext, translation.ngettext, newstyle=True
    )
    env.globals.update(
        language=translation.get_language,
        static=static,
        amount_input=amount_input,
        amount_typed=amount_typed,
        pay_amount_example=pay_amount_example,
        pay_card_config=pay_card_config,
    )
    return env
