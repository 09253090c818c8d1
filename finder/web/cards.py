"""The result card, the one piece a results page repeats, and the fact chips on it.

Drawn in Python, not by a Jinja macro, and from words drawn once per process and language: a
results page has 20 cards and about 150 chips, and when no cache holds the page they were its
largest cost (as macros, 0.15–0.25 ms a card; here about a third of that). The card's markup
is here and only here: templates call `card(hit)`, and the detail page `facts(activity)`.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from .. import taxonomy
from ..search import Hit
from .i18n import gettext as _
from .present import (
    COST_WORDS,
    cost_words,
    language_name,
    words_now,
)
from .templating import drawn_once, icon, label_icon, stale

# The tag chips in the order a card shows them, after the cost: social tariff, drinks, who comes
# along, walk in or register (one of the two), then children and access.
_TAGS_BEFORE_ENTRY = (
    "social_tariff",
    "free_drinks",
    *(t.slug for t in taxonomy.ACCOMPANIMENT_TAGS),
)
_TAGS_AFTER_ENTRY = (
    "children",
    "play_corner",
    "babies",
    "women_only",
    "open_to_all",
    "wheelchair",
    "public_transport",
)


def chip(name: str, text: str, cls: str = "chip") -> Markup:
    """A fact as an item of the card's list: the item is the chip (no span inside it)."""
    return label_icon(name, text, cls, tag="li")


def _draw() -> dict[str, Markup]:
    """Every piece of a card whose words depend only on the language, in the current one."""
    pieces = {
        "stale": chip(
            "warning", _("Not confirmed recently: check with the organiser"), cls="chip warn"
        ),
        "social_tariff": chip("social_tariff", _("Social tariff (UiTPAS)")),
        "free_drinks": chip("free_drinks", _("Free drinks")),
        "walk_in": chip("walk_in", _("Walk in, no need to register")),
        "register": chip("register", _("Register first")),
        "clock": icon("clock"),
        "pin": icon("pin"),
    }
    for cost_type, words in COST_WORDS.items():
        pieces["cost:" + cost_type] = chip(cost_type, _(words))
    for slug in (*_TAGS_BEFORE_ENTRY, *_TAGS_AFTER_ENTRY):
        if slug not in pieces:
            tag = taxonomy.TAG_BY_SLUG[slug]
            pieces[slug] = chip(tag.icon, _(tag.label))
    for cat in taxonomy.CATEGORIES:
        pieces["category:" + cat.slug] = Markup(
            f'<p class="cat">{icon(cat.icon)}<span>{escape(_(cat.label))}</span></p>'
        )
    return pieces


def _pieces() -> dict[str, Markup]:
    """The fixed pieces in the page's language, drawn once per process and language."""
    return drawn_once("card_pieces", _draw)


def _chips(activity: Any, pieces: dict[str, Markup]) -> list[Markup]:
    """The facts a family decides on, each an icon with words, in a fixed order: a warning
    when the listing is old, cost, social tariff, free drinks, who comes along, walk in or
    register, children and access, languages."""
    tags = taxonomy.tags_of(activity.tags_mask)
    chips = [pieces["stale"]] if stale(activity) else []
    cost = pieces.get("cost:" + activity.cost_type)
    chips.append(cost if cost is not None else chip("euro", cost_words(activity)))
    chips.extend(pieces[slug] for slug in _TAGS_BEFORE_ENTRY if slug in tags)
    if "walk_in" in tags:
        chips.append(pieces["walk_in"])
    elif "register" in tags:
        chips.append(pieces["register"])
    chips.extend(pieces[slug] for slug in _TAGS_AFTER_ENTRY if slug in tags)
    spoken = ", ".join(language_name(code) for code in activity.language_codes)
    chips.append(chip("language", _("Spoken: %(languages)s", languages=spoken)))
    return chips


def facts(activity: Any, pieces: dict[str, Markup] | None = None) -> Markup:
    """The chips as the list the card and the detail page show."""
    chips = _chips(activity, pieces or _pieces())
    return Markup('<ul class="facts">' + "".join(chips) + "</ul>")


def card(hit: Hit) -> Markup:
    """One result of the list: kind, title (a link), next session, place and distance,
    summary and the facts. Texts are in the visitor's language when translated; `lang` says
    which language they are in."""
    pieces = _pieces()
    words = words_now()
    a = hit.listing
    lang = escape(a.text_language)
    when = (
        f'    <p class="when">{pieces["clock"]}'
        f"<span>{escape(words.session(hit.next_sessions[0]))}</span></p>\n"
        if hit.next_sessions
        else ""
    )
    return Markup(
        '<li class="card">\n  <article>\n'
        f"    {pieces['category:' + a.category]}\n"
        f'    <h3><a href="{escape(words.address(a.id, a.slug))}" lang="{lang}" '
        f'dir="auto">{escape(a.title)}</a></h3>\n'
        f"{when}"
        f'    <p class="where">{pieces["pin"]}<span><bdi>{escape(a.municipality)}</bdi> · '
        f"{escape(words.distance(hit.distance_km))}</span></p>\n"
        f'    <p class="summary" lang="{lang}" dir="auto">{escape(a.summary or "")}</p>\n'
        f"    {facts(a, pieces)}\n"
        "  </article>\n</li>\n"
    )
