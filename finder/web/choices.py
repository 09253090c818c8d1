"""The search form's choices: when, what matters (tags), kind of activity, language spoken.

Drawn in Python, like the result card (`web/cards.py`), from pieces drawn once per process and
language: every results page carries the form, and its 16 ticked or unticked tags with their
icons, 4 moments, 11 kinds and 17 languages cost a page made anew 0.34 ms as a Jinja loop. The
form itself stays in `macros.html`; these are its lists, and their markup lives only here.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

from .. import taxonomy
from .i18n import gettext as _
from .templating import drawn_once, icon

# A choice: its value, then its markup when not chosen and when chosen.
Choice = tuple[str, Markup, Markup]


def _choice(value: str, template: str, mark: str, **parts: object) -> Choice:
    """A choice of `value`: `template` with `{mark}` left empty, and with the attribute that
    marks it chosen."""
    safe = {k: v if isinstance(v, Markup) else escape(v) for k, v in parts.items()}
    unchosen = Markup(template.format(value=escape(value), mark="", **safe))
    return value, unchosen, Markup(template.format(value=escape(value), mark=" " + mark, **safe))


_WHEN = (
    '<label class="pill"><input type="radio" name="when" value="{value}"{mark}>'
    "<span>{label}</span></label>"
)
_TAG = (
    '<label class="tag-choice"><input type="checkbox" name="tag" value="{value}"{mark}>'
    "{icon}<span>{label}</span></label>"
)
_KIND = '<option value="{value}"{mark}>{label}</option>'
_LANGUAGE = '<option value="{value}" lang="{value}"{mark}>{name}</option>'


def _draw() -> dict[str, tuple[Choice, ...]]:
    return {
        "when": tuple(
            _choice(slug, _WHEN, "checked", label=_(label))
            for slug, label in taxonomy.WHEN_CHOICES.items()
        ),
        "tag": tuple(
            _choice(t.slug, _TAG, "checked", icon=icon(t.icon), label=_(t.label))
            for t in taxonomy.FILTER_TAGS
        ),
        "category": tuple(
            _choice(c.slug, _KIND, "selected", label=_(c.label)) for c in taxonomy.CATEGORIES
        ),
        "lang_spoken": tuple(
            _choice(code, _LANGUAGE, "selected", name=name)
            for code, name in taxonomy.LANGUAGES.items()
        ),
    }


def search_choices(group: str, chosen: str | Iterable[str] | None) -> Markup:
    """The choices of one of the form's lists (`when`, `tag`, `category`, `lang_spoken`) in
    the page's language, those in `chosen` (a value or several) marked so."""
    picked = {chosen} if isinstance(chosen, str) else set(chosen or ())
    return Markup("\n").join(
        checked if value in picked else unchecked
        for value, unchecked, checked in drawn_once("search_choices", _draw)[group]
    )
