"""Template helpers: fingerprinted assets, the language cookie, links that keep the language."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlencode, urlsplit

from babel import Locale
from babel.dates import get_day_names
from flask import Flask, Response, current_app, g, request
from markupsafe import Markup, escape

from .. import mapview, taxonomy
from ..accounts import ROLE_LABELS
from ..freshness import confirmed_before, stale_since
from ..text import fold
from . import i18n
from .common import LANG_COOKIE, freshness_settings, lang_cookie, locale_code, now_utc
from .i18n import gettext as _
from .present import (
    activity_url,
    cost_words,
    distance_words,
    language_in_page_language,
    language_name,
    place_name,
    session_words,
    texts,
)
from .public import places_url

ASSET_MAX_AGE = 31536000


@lru_cache(maxsize=256)
def _fingerprint(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def asset_url(filename: str) -> str:
    """/static/<file>?v=<hash of its content>, so that it can be cached for a year.

    A page asks for the icon sprite a hundred times: outside debug mode the answer is kept
    for the life of the process (deployed files do not change under a running worker)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    known: dict[str, str] = app.extensions.setdefault("meegaan_asset_urls", {})
    url = known.get(filename)
    if url is not None and not app.debug:
        return url
    path = Path(app.static_folder or "") / filename
    version = _fingerprint(str(path), path.stat().st_mtime)
    url = known[filename] = f"{app.static_url_path}/{filename}?v={version}"
    return url


def _lang_in_links(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint != "static" and "lang" not in values:
        values["lang"] = locale_code()


def _after(response: Response) -> Response:
    cookie = lang_cookie(
        request.args.get("lang"),
        request.cookies.get(LANG_COOKIE),
        current_app.config["LANGUAGES"],
        request.is_secure,
    )
    if cookie:
        response.headers.add("Set-Cookie", cookie)
    if request.endpoint == "static" and request.args.get("v"):
        response.cache_control.public = True
        response.cache_control.max_age = ASSET_MAX_AGE
        response.cache_control.immutable = True
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


def lang_url(code: str, external: bool = False) -> str:
    """The current page in another interface language (its parameters kept, `lang` where it
    was or else last). A page asks for 17 of these: the address around the language is made
    once per request, then each language code (plain letters) goes in between."""
    memo: dict[bool, tuple[str, str]] | None = g.get("meegaan_lang_urls")
    if memo is None:
        memo = g.meegaan_lang_urls = {}
    around = memo.get(external)
    if around is None:
        args = request.args.to_dict(flat=False)
        args["lang"] = []  # keeps its place, or takes the last one
        keys = list(args)
        at = keys.index("lang")

        def encoded(part: list[str]) -> str:
            return urlencode([(k, v) for k in part for v in args[k]])

        before, after = encoded(keys[:at]), encoded(keys[at + 1 :])
        base = request.base_url if external else request.path
        around = memo[external] = (
            f"{base}?{before + '&' if before else ''}lang=",
            f"&{after}" if after else "",
        )
    return around[0] + quote_plus(code) + around[1]


def http_url(value: str | None) -> str | None:
    """The URL when it is a plain web address; anything else (javascript:, data:) is not a link."""
    if value and urlsplit(value.strip()).scheme in ("http", "https"):
        return value.strip()
    return None


@lru_cache(maxsize=32)
def endonym(code: str) -> str:
    """A language in its own name and script, for the switcher: Français, العربية, Українська."""
    name = str(Locale.parse(code).get_display_name(code) or code)
    return name[:1].upper() + name[1:]


class _StatusLabels:
    """Activity states in the user's language, for the staff pages."""

    def __getitem__(self, status: str) -> str:
        return {
            "draft": _("draft"),
            "pending": _("waiting for a check"),
            "published": _("online"),
            "paused": _("paused"),
            "archived": _("archived"),
        }[status]


STATUS_LABELS = _StatusLabels()


@lru_cache(maxsize=32)
def text_direction(code: str) -> str:
    """'rtl' for Arabic and Farsi, 'ltr' otherwise, from Babel's locale data."""
    return str(Locale.parse(code).text_direction)


_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str | None) -> Markup:
    """Escape organiser text and turn plain web addresses in it into links (no other markup)."""

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in ".,;:!?)":
            url, trail = url[:-1], url[-1] + trail
        return f'<a href="{url}" rel="nofollow noopener noreferrer">{url}</a>{trail}'

    return Markup(_URL.sub(link, str(escape(text or ""))))


def stale(activity: Any) -> bool:
    """Not confirmed recently: families are told on the card and the detail page. (The
    moment is worked out once per request: a page asks for each of its cards.)"""
    since = g.get("meegaan_stale_since")
    if since is None:
        since = g.meegaan_stale_since = stale_since(now_utc(), freshness_settings())
    return confirmed_before(activity, since)


T = TypeVar("T")

# No `focusable="false"`: only Internet Explorer and the old Edge put an SVG in the tab order,
# and the attribute cost a results page 3.5 KB before compression (200 icons).
_ICON = Markup('<svg class="%s" aria-hidden="true"><use href="%s#%s"></use></svg>')


def icon(name: str, cls: str = "icon") -> Markup:
    """An icon of the sprite. Decorative: the words next to it say what it means. (A Python
    function, not a macro, and each drawn once per process: a results page has 200 of them.)"""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    drawn: dict[tuple[str, str], Markup] = app.extensions.setdefault("meegaan_icons", {})
    found = drawn.get((cls, name))
    if found is None or app.debug:
        found = drawn[(cls, name)] = _ICON % (cls, asset_url("img/icons.svg"), name)
    return found


def drawn_once(name: str, draw: Callable[[], T]) -> T:
    """What `draw` makes in the page's language, made once per process and language: catalogs,
    icons and the taxonomy do not change under a running worker (again on every call in debug
    mode, where templates reload)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    drawn: dict[str, T] = app.extensions.setdefault("meegaan_drawn_" + name, {})
    locale = locale_code()
    found = drawn.get(locale)
    if found is None or app.debug:
        found = drawn[locale] = draw()
    return found


def label_icon(name: str, text: str, cls: str = "chip", tag: str = "span") -> Markup:
    # Concatenation, not `Markup % …`: a third of the time, and a card has 15 of these.
    return Markup(f'<{tag} class="{cls}">{icon(name)}<span>{escape(text)}</span></{tag}>')


def has_error(errors: list[Any], field: str) -> bool:
    return any(e.field == field for e in errors)


def init_app(app: Flask) -> None:
    app.url_defaults(_lang_in_links)
    app.after_request(_after)
    env = app.jinja_env
    i18n.install(env)
    env.globals.update(
        icon=icon,
        label_icon=label_icon,
        asset_url=asset_url,
        taxonomy=taxonomy,
        map_assets=mapview.ASSETS,
        locale_code=locale_code,
        text_direction=text_direction,
        endonym=endonym,
        lang_url=lang_url,
        activity_url=activity_url,
        texts=texts,
        session_words=session_words,
        cost_words=cost_words,
        distance_words=distance_words,
        language_name=language_name,
        language_in_page_language=language_in_page_language,
        place_name=place_name,
        fold=fold,
        has_error=has_error,
        stale=stale,
        places_url=places_url,
        _=_,
    )
    env.filters["language_name"] = language_name
    env.filters["http_url"] = http_url
    env.filters["linkify"] = linkify
    env.add_extension("jinja2.ext.do")
    from . import cards
    from . import request_words as rw
    from .choices import search_choices

    env.globals.update(card=cards.card, facts=cards.facts, search_choices=search_choices)

    env.globals.update(
        session_day=rw.session_day,
        family_status_title=rw.family_status_title,
        family_status_lines=rw.family_status_lines,
        event_words=rw.event_words,
        mode_labels=rw.MODE_LABELS,
        state_labels=rw.STATE_LABELS,
        outcome_labels=rw.OUTCOME_LABELS,
        followup_labels=rw.FOLLOWUP_LABELS,
        reason_labels=rw.REASON_LABELS,
        channel_labels=rw.CHANNEL_LABELS,
        weekday_name=lambda i: get_day_names("wide", locale=locale_code())[i],
    )
    env.globals["role_labels"] = ROLE_LABELS
    env.globals["status_labels"] = STATUS_LABELS
    env.trim_blocks = True
    env.lstrip_blocks = True
