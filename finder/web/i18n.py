"""gettext and the language code for pages and views, looked up once per request and language.

flask-babel finds the catalog (and the locale's name) again for every string, a few
microseconds each; a results page asks hundreds of times. Here both are kept in flask-babel's
own per-request namespace: the catalog under `babel_translations`, the key its `refresh()` —
and so `force_locale()` — clears, and the code next to the locale object it was made from. A
slip in the family's language inside a Dutch page still gets the family's words.
"""

from __future__ import annotations

from typing import Any

from babel.support import NullTranslations
from flask import current_app, g, has_app_context
from flask_babel import get_locale, get_translations


def translations() -> NullTranslations:
    if not has_app_context():
        return get_translations()
    space = g.get("_flask_babel")
    found: NullTranslations | None = getattr(space, "babel_translations", None)
    if found is None:
        found = get_translations()
        space = g.get("_flask_babel")
        if space is not None:
            space.babel_translations = found
    return found


def locale_code() -> str:
    """The page's language code (`nl`, `ar`, …)."""
    space = g.get("_flask_babel") if has_app_context() else None
    memo = getattr(space, "meegaan_locale", None)
    if memo is not None and memo[0] is getattr(space, "babel_locale", None):
        code: str = memo[1]
        return code
    locale = get_locale()
    code = str(locale or current_app.config["DEFAULT_LOCALE"])
    space = g.get("_flask_babel") if has_app_context() else None
    if space is not None and locale is not None:
        space.meegaan_locale = (locale, code)
    return code


def gettext(string: str, **variables: Any) -> str:
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def install(env: Any) -> None:
    """The templates' `_`, `gettext` and `ngettext` (Jinja's i18n extension, new style)."""
    env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
