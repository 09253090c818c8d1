"""How activities look to a family: their language, dates in plain words, cost, JSON shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time, get_day_names
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal
from flask import g, url_for

from .. import taxonomy
from ..activities import translation_for
from ..geo import Place
from ..models import Activity
from ..schedule import WEEKDAYS, Recurrence, Timed, to_local
from ..search import Listing
from ..text import url_slug
from .common import locale_code, now_utc
from .i18n import gettext as _

# How each language writes "Wednesday 2 December" (CLDR's skeletons abbreviate the weekday).
DAY_PATTERNS = {
    "uk": "EEEE, d MMMM",
    "ru": "EEEE, d MMMM",
    "tr": "d MMMM EEEE",
}


def activity_url(activity: Activity, external: bool = False) -> str:
    return detail_url(activity.id, activity.title, external)


_SOME_ID = 987654321


def detail_url(activity_id: int, title: str, external: bool = False) -> str:
    """The detail page's address, as `url_for` writes it (see `Words.detail_url`)."""
    return words_now().detail_url(activity_id, title, external)


def texts(activity: Activity) -> dict[str, Any]:
    """Title, summary, description and welcome in the visitor's language when there is one.

    `lang` is the language the texts are in, for the `lang` attribute and the "in Dutch" label.
    """
    locale = locale_code()
    tr = translation_for(activity, [locale])
    if tr:
        return {**tr, "lang": tr["locale"], "translated": True}
    return {
        "title": activity.title,
        "summary": activity.summary,
        "description": activity.description,
        "welcome_instructions": activity.welcome_instructions,
        "lang": activity.original_locale,
        "translated": False,
    }


def language_name(code: str) -> str:
    """A language in its own name and script (Nederlands, العربية), as a family recognises it."""
    return taxonomy.LANGUAGES.get(code, code)


def language_in_page_language(code: str) -> str:
    """A language named in the page's language: 'Dutch' in English, 'الهولندية' in Arabic."""
    try:
        return str(Locale.parse(code).get_display_name(locale_code()) or code)
    except (ValueError, LookupError):
        return language_name(code)


def place_name(place: Place) -> str:
    if locale_code() == "fr" and place.municipality_fr and place.name == place.municipality_nl:
        return place.municipality_fr
    return place.name


# Babel's formatting is exact and slow (tens of microseconds); a results page formats the same
# few clock times, days and distances dozens of times. Pure functions of their arguments: kept.
@lru_cache(maxsize=4096)
def _clock(moment: time, locale: str) -> str:
    return format_time(moment, "HH:mm", locale=locale)


@lru_cache(maxsize=4096)
def _day(day: date, locale: str) -> str:
    return format_date(day, DAY_PATTERNS.get(locale, "EEEE d MMMM"), locale=locale)


@lru_cache(maxsize=4096)
def _money(amount: Any, locale: str) -> str:
    return format_currency(amount, "EUR", locale=locale)


@lru_cache(maxsize=4096)
def _number(value: float, pattern: str | None, locale: str) -> str:
    return format_decimal(value, format=pattern, locale=locale)


class Words:
    """Dates, distances and addresses in one language, for the many items of one page.

    Worked out once per request and language (`words_now`): a city map has 200 pins, each with
    a session, a distance and an address, and asking Flask for the language, the catalog and
    `url_for` (about 50 µs) again for each one cost more than the rest of the pin.
    """

    def __init__(self, locale: str, today: date) -> None:
        self.locale = locale
        self.days = {today: _("Today"), today + timedelta(days=1): _("Tomorrow")}
        self.session_pattern = _("%(day)s, %(start)s–%(end)s")
        self.metres = _("%(metres)s m")
        self.km = _("%(km)s km")
        self._detail_urls: dict[bool, tuple[str, str]] = {}
        self._sessions: dict[tuple[datetime, datetime], str] = {}

    def day(self, local_day: date) -> str:
        """'Today', 'Tomorrow' or 'Wednesday 4 December'."""
        found = self.days.get(local_day)
        if found is None:
            found = self.days[local_day] = _day(local_day, self.locale)
        return found

    def session(self, occ: Timed) -> str:
        """'Wednesday 4 December, 14:00–16:00'.

        The times are wrapped in Unicode isolates (LRI … PDI): on an Arabic or Farsi page the
        bidi algorithm would otherwise show "16:00–14:00". Each session is written once per
        page: on a map many pins share a time ("today, 14:00–16:00").
        """
        key = (occ.starts_at, occ.ends_at)
        found = self._sessions.get(key)
        if found is None:
            start, end = to_local(occ.starts_at), to_local(occ.ends_at)
            found = self._sessions[key] = self.session_pattern % {
                "day": self.day(start.date()),
                "start": "\u2066" + _clock(start.time(), self.locale),
                "end": _clock(end.time(), self.locale) + "\u2069",
            }
        return found

    def distance(self, km: float) -> str:
        if km < 1:
            return self.metres % {"metres": _number(round(km * 1000, -1), None, self.locale)}
        return self.km % {"km": _number(round(km, 1), "#,##0.0", self.locale)}

    def detail_url(self, activity_id: int, title: str, external: bool = False) -> str:
        """The detail page's address, as `url_for` writes it. (Tests compare the two for
        hostile titles.)"""
        return self.address(activity_id, url_slug(title), external)

    def address(self, activity_id: int, slug: str, external: bool = False) -> str:
        """The detail page's address for a slug as activities store it (`text.url_slug`):
        `url_for` is asked once, then the id and slug are put in its answer."""
        made = self._detail_urls.get(external)
        if made is None:
            url = url_for("public.detail", activity_id=_SOME_ID, slug="slug", _external=external)
            made = self._detail_urls[external] = url.partition(f"/{_SOME_ID}-slug")[::2]
        return f"{made[0]}/{activity_id}-{slug}{made[1]}"


def words_now() -> Words:
    """The page's `Words`, in the language of the moment (a slip in the family's language
    inside a Dutch page gets its own)."""
    locale = locale_code()
    memo: dict[str, Words] = g.setdefault("meegaan_words", {})
    words = memo.get(locale)
    if words is None:
        words = memo[locale] = Words(locale, to_local(now_utc()).date())
    return words


def day_words(moment: datetime) -> str:
    """'Today', 'Tomorrow' or 'Wednesday 4 December' for a naive-UTC moment."""
    return words_now().day(to_local(moment).date())


def session_words(occ: Timed) -> str:
    """'Wednesday 4 December, 14:00–16:00' (see `Words.session`)."""
    return words_now().session(occ)


# The words of a cost that has no amount (to translate: `_(COST_WORDS[cost_type])`).
COST_WORDS = {"free": taxonomy.N_("Free"), "pay_what_you_can": taxonomy.N_("Pay what you can")}


def cost_words(activity: Activity | Listing) -> str:
    words = COST_WORDS.get(activity.cost_type)
    if words is not None:
        return _(words)
    return _money(activity.cost_amount or 0, locale_code())


def distance_words(km: float) -> str:
    return words_now().distance(km)


def tag_slugs(activity: Activity | Listing) -> list[str]:
    return taxonomy.mask_to_tags(activity.tags_mask)


def iso(moment: datetime) -> str:
    return to_local(moment).isoformat(timespec="seconds")


def listing(activity: Activity) -> Listing:
    """What a card and the JSON API show of an activity, its texts in the page's language
    (`texts`): for one activity, or a draft in the editor's preview."""
    t = texts(activity)
    organisation = activity.organisation
    return Listing(
        id=activity.id,
        title=t["title"],
        summary=t["summary"],
        text_language=t["lang"],
        slug=url_slug(activity.title),  # from the title as it is now (a draft's preview)
        category=activity.category,
        street=activity.street,
        postcode=activity.postcode,
        municipality=activity.municipality,
        lat=activity.lat,
        lon=activity.lon,
        cost_type=activity.cost_type,
        cost_amount=activity.cost_amount,
        cost_note=activity.cost_note,
        tags_mask=activity.tags_mask,
        languages=activity.languages,
        last_confirmed_at=activity.last_confirmed_at,
        created_at=activity.created_at,
        organisation_id=organisation.id if organisation else None,
        organisation_name=organisation.name if organisation else "",
    )


def result_json(
    item: Listing, distance_km: float | None, sessions: Sequence[Timed]
) -> dict[str, Any]:
    """One result in the JSON contract of DESIGN §7."""
    return {
        "id": item.id,
        "url": words_now().address(item.id, item.slug, external=True),
        "title": item.title,
        "summary": item.summary,
        "text_language": item.text_language,
        "category": item.category,
        "tags": tag_slugs(item),
        "cost": {
            "type": item.cost_type,
            "amount_eur": float(item.cost_amount) if item.cost_amount is not None else None,
            "note": item.cost_note or None,
        },
        "languages": item.language_codes,
        "address": {
            "street": item.street,
            "postcode": item.postcode,
            "municipality": item.municipality,
        },
        "lat": item.lat,
        "lon": item.lon,
        "distance_km": round(distance_km, 2) if distance_km is not None else None,
        "next": [{"start": iso(s.starts_at), "end": iso(s.ends_at)} for s in sessions],
        "organisation": {"id": item.organisation_id, "name": item.organisation_name},
    }


def speech_parts(
    activity: Activity, t: dict[str, Any], sessions: Sequence[Timed]
) -> list[dict[str, str]]:
    """The key facts to read aloud, each with the language it is written in."""
    page = locale_code()
    tags = set(tag_slugs(activity))
    parts = [{"lang": t["lang"], "text": t["title"]}]
    if sessions:
        parts.append({"lang": page, "text": _("When: %(when)s", when=session_words(sessions[0]))})
    parts.append(
        {
            "lang": page,
            "text": _(
                "Where: %(address)s",
                address=", ".join(
                    x
                    for x in (activity.street, f"{activity.postcode} {activity.municipality}")
                    if x
                ),
            ),
        }
    )
    parts.append({"lang": page, "text": _("Cost: %(cost)s", cost=cost_words(activity))})
    along = [_(tag.label) for tag in taxonomy.ACCOMPANIMENT_TAGS if tag.slug in tags]
    if along:
        parts.append({"lang": page, "text": ". ".join(along)})
    if "walk_in" in tags:
        parts.append({"lang": page, "text": _("Walk in, no need to register")})
    elif "register" in tags:
        parts.append({"lang": page, "text": _("Register first")})
    return parts


def _isolated(text: str) -> str:
    return "\u2066" + text + "\u2069"


def schedule_words(
    rec: Recurrence,
    first: date,
    start: time,
    end: time,
    exceptions: Sequence[date],
    skip_school_holidays: bool = False,
) -> list[str]:
    """The schedule in plain sentences: 'Every Wednesday, 14:00–16:00.' 'Not on 25 December.'"""
    locale = locale_code()
    days = get_day_names("wide", locale=locale)
    index = {code: i for i, code in enumerate(WEEKDAYS)}
    hours = _isolated(
        f"{format_time(start, 'HH:mm', locale=locale)}–{format_time(end, 'HH:mm', locale=locale)}"
    )

    def day_text(d: date) -> str:
        return format_date(d, DAY_PATTERNS.get(locale, "EEEE d MMMM") + " y", locale=locale)

    sentences = []
    if rec.repeat == "once":
        sentences.append(_("Once, on %(date)s, %(hours)s.", date=day_text(first), hours=hours))
    elif rec.repeat in ("weekly", "fortnightly"):
        names = format_list([days[index[d]] for d in WEEKDAYS if d in rec.weekdays], locale=locale)
        if rec.repeat == "weekly":
            sentences.append(_("Every %(days)s, %(hours)s.", days=names, hours=hours))
        else:
            sentences.append(_("Every other %(days)s, %(hours)s.", days=names, hours=hours))
    else:
        day = days[index[rec.monthly_day]]
        monthly = {
            1: _("On the first %(day)s of the month, %(hours)s.", day=day, hours=hours),
            2: _("On the second %(day)s of the month, %(hours)s.", day=day, hours=hours),
            3: _("On the third %(day)s of the month, %(hours)s.", day=day, hours=hours),
            4: _("On the fourth %(day)s of the month, %(hours)s.", day=day, hours=hours),
            -1: _("On the last %(day)s of the month, %(hours)s.", day=day, hours=hours),
        }
        sentences.append(monthly[rec.week_of_month])
    if rec.repeat != "once":
        if rec.until:
            sentences.append(
                _("From %(first)s until %(last)s.", first=day_text(first), last=day_text(rec.until))
            )
        else:
            sentences.append(_("Starting %(first)s.", first=day_text(first)))
    if skip_school_holidays and rec.repeat != "once":
        sentences.append(_("Not during school holidays."))
    if exceptions:
        dates = format_list([day_text(d) for d in sorted(exceptions)], locale=locale)
        sentences.append(_("Not on %(dates)s.", dates=dates))
    return sentences
