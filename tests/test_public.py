"""The families' pages over HTTP: good and bad parameters, escaping, language, headers."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy.orm import Session

from finder import create_app

from . import factories as f

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'"


@pytest.fixture()
def gent(db: Session) -> list[int]:
    return [
        f.activity(
            db,
            title=f"Koffie {i}",
            offset_km=(0.4 * i, 0),
            tags=("free_drinks", "walk_in", "buddy"),
        ).id
        for i in range(4)
    ]


def test_home_has_the_search_form_and_place_list(client: FlaskClient) -> None:
    page = client.get("/?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="where"' in html and 'list="places"' in html
    assert 'name="tag" value="free_drinks"' in html
    # The town suggestions come once from /places.json (kept by the browser for a year).
    src = re.search(r'<datalist id="places" data-src="([^"]+)"></datalist>', html)
    assert src is not None and "lang=" not in src.group(1)
    names = client.get(src.group(1).replace("&amp;", "&"))
    assert names.status_code == 200 and "immutable" in names.headers["Cache-Control"]
    assert "Gent" in names.get_json() and "Ixelles" in names.get_json()
    assert "immutable" not in client.get("/places.json?v=old").headers.get("Cache-Control", "")


def test_the_search_form_keeps_every_choice_in_the_page_language(
    client: FlaskClient, gent: list[int]
) -> None:
    """What the family chose comes back chosen, and nothing else: when, the ticked tags, the
    kind and the language spoken, the labels in the page's language."""
    html = client.get(
        "/activities?where=9000&when=week&tag=free_drinks&tag=walk_in"
        "&category=coffee_chat&lang_spoken=ar&lang=fr"
    ).get_data(as_text=True)
    assert re.findall(r'value="(\w+)" checked', html) == ["week", "free_drinks", "walk_in"]
    assert re.findall(r'value="(\w+)"(?: lang="\w+")? selected', html) == ["coffee_chat", "ar"]
    assert "<span>Cette semaine</span>" in html
    assert "<span>Boissons gratuites</span></label>" in html
    assert '<option value="coffee_chat" selected>Café et papote</option>' in html
    assert '<option value="ar" lang="ar" selected>العربية</option>' in html
    # A page without choices has "any time" chosen and no tag ticked.
    html = client.get("/activities?where=9000&lang=fr").get_data(as_text=True)
    assert re.findall(r'value="(\w+)" (?:checked|selected)', html) == ["any"]


def test_results_list_cards_with_icons_and_labels(client: FlaskClient, gent: list[int]) -> None:
    page = client.get("/activities?where=9000&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "4 activities found" in html
    assert html.count('class="card"') == 4
    assert "Free drinks" in html and "#free_drinks" in html
    assert "A buddy can come with you" in html
    assert "Walk in, no need to register" in html
    assert (
        "Today, \u206614:00–16:00\u2069" in html
    )  # NOW is a Wednesday; the factory's session is at 14:00
    assert len(f.results_map(client, html)["points"]) == 4


def test_results_in_dutch_by_default(client: FlaskClient, gent: list[int]) -> None:
    html = client.get("/activities?where=Gent").get_data(as_text=True)
    assert '<html lang="nl" dir="ltr">' in html
    assert "4 activiteiten gevonden" in html and "Gratis drinken" in html


@pytest.mark.parametrize(
    "where", ["9000", "Gent", "gent", "Gand", "Ledeberg", "Sint Niklaas", "2060"]
)
def test_every_example_place_gives_a_results_page(client: FlaskClient, where: str) -> None:
    assert client.get("/activities", query_string={"where": where}).status_code == 200


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"where": "Gentt"}, "where", "We do not know the place"),
        ({"where": ""}, "where", "Type a postcode or the name of your town."),
        ({"where": "9000", "radius_km": "-3"}, "radius_km", "The distance must be a number"),
        ({"where": "9000", "radius_km": "abc"}, "radius_km", "The distance must be a number"),
        ({"where": "9000", "tag": "nope"}, "tag", "We do not know this filter: nope."),
        ({"where": "9000", "when": "yesterday"}, "when", "Choose when"),
        ({"where": "9000", "category": "x"}, "category", "We do not know this kind of activity."),
        ({"where": "9000", "lang_spoken": "xx"}, "lang_spoken", "We do not know this language."),
        ({"where": "9000", "page": "0"}, None, "The page number must be 1 or more."),
        ({"where": "9000", "per_page": "1000"}, None, "Show between 1 and 100 results per page."),
        ({"where": "x" * 500}, "where", "This is too long for a place."),
        ({"lat": "abc", "lon": "3.7"}, "where", "We could not use your location."),
        ({"lat": "40.0", "lon": "3.7"}, "where", "We could not use your location."),
    ],
)
def test_bad_input_gives_a_clear_400_and_keeps_what_was_typed(
    client: FlaskClient, query: dict[str, str], field: str | None, message: str
) -> None:
    page = client.get("/activities", query_string={**query, "lang": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert message in html
    if field:
        assert f'aria-describedby="{field}-error"' in html
        assert f'<p class="error" id="{field}-error">' in html
    where = query.get("where", "")
    assert f'value="{where}"' in html or len(where) > 100


def test_unknown_place_suggests_links(client: FlaskClient) -> None:
    html = client.get("/activities?where=Gentt&lang=en").get_data(as_text=True)
    assert "Did you mean:" in html and 'href="/activities?where=Gent&amp;lang=en"' in html


@pytest.mark.parametrize(
    ("typo", "lang", "did_you_mean"),
    [("Gnet", "fr", "Vouliez-vous dire"), ("Gend", "ar", "هل تقصد")],
)
def test_a_typo_asks_did_you_mean_gent_in_the_familys_language(
    client: FlaskClient, typo: str, lang: str, did_you_mean: str
) -> None:
    html = client.get(f"/activities?where={typo}&lang={lang}").get_data(as_text=True)
    assert did_you_mean in html
    first = re.search(r'<span class="suggest">[^<]*<a href="([^"]+)"><bdi>([^<]+)</bdi>', html)
    assert first and first.groups() == (f"/activities?where=Gent&amp;lang={lang}", "Gent")


def test_an_ambiguous_place_offers_each_as_a_link_most_populous_first(client: FlaskClient) -> None:
    page = client.get("/activities?where=Deurne&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "There is more than one “Deurne”" in html
    links = re.findall(r'<a href="(/activities\?where=Deurne[^"]+)"><bdi>([^<]+)</bdi></a>', html)
    assert [text for _href, text in links] == ["Deurne (2100 Antwerpen)", "Deurne (3290 Diest)"]
    followed = client.get(links[1][0].replace("&amp;", "&"))
    assert followed.status_code == 200
    assert "Activities near Deurne" in followed.get_data(as_text=True)


@pytest.mark.parametrize("where", ["9000 Gent", "Gent 9000", "gent"])
def test_a_postcode_and_a_name_together_find_the_place(client: FlaskClient, where: str) -> None:
    page = client.get("/activities", query_string={"where": where, "lang": "en"})
    assert page.status_code == 200 and "Activities near Gent" in page.get_data(as_text=True)


def test_injection_attempts_are_shown_as_text(client: FlaskClient) -> None:
    page = client.get("/activities", query_string={"where": HOSTILE, "q": HOSTILE})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    sql = client.get("/activities", query_string={"where": "9000' OR 1=1 --"})
    assert sql.status_code == 400


def test_widening_is_said(client: FlaskClient, db: Session) -> None:
    f.activity(db, title="Far away", offset_km=(8, 0))
    html = client.get("/activities?where=9000&lang=en").get_data(as_text=True)
    assert "We found few activities within 5 km, so we also looked up to 50 km." in html
    assert "Far away" in html


def test_no_result_suggests_removing_a_filter(client: FlaskClient, gent: list[int]) -> None:
    html = client.get("/activities?where=9000&tag=women_only&tag=free_drinks&lang=en").get_data(
        as_text=True
    )
    assert "We found no activity for this search." in html
    assert "Remove the filter “Women only”" in html
    assert "tag=free_drinks" in html


def test_paging_links(client: FlaskClient, gent: list[int]) -> None:
    html = client.get("/activities?where=9000&per_page=2&lang=en").get_data(as_text=True)
    assert "Page 1 of 2" in html and 'rel="next"' in html and "page=2" in html


def test_detail_page_has_what_a_family_needs(client: FlaskClient, db: Session) -> None:
    a = f.activity(
        db,
        title="Speelhoek",
        cost_type="amount",
        cost_amount=2,
        cost_note="Soep: 1 euro",
        languages=["nl", "ar"],
        tags=("children", "play_corner", "register"),
    )
    page = client.get(f"/activities/{a.id}?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("<li>") >= 5 and "Today, \u206614:00–16:00\u2069" in html
    assert "€2.00" in html and "Soep: 1 euro" in html and "Register first" in html
    assert f"geo:{a.lat:.6f},{a.lon:.6f}" in html
    assert "openstreetmap.org/directions?to=" in html
    assert f"/activities/{a.id}.ics" in html
    assert f"/activities/{a.id}-speelhoek?lang=en" in html  # share link keeps the language
    assert "Vraag naar Fatima." in html and "العربية" in html


def test_detail_shows_translation_or_marks_the_original_language(
    client: FlaskClient, db: Session
) -> None:
    a = f.activity(db, title="Koffiemoment", translations={"en": {"title": "Coffee morning"}})
    en = client.get(f"/activities/{a.id}?lang=en").get_data(as_text=True)
    assert '<h1 lang="en" dir="auto">Coffee morning</h1>' in en
    b = f.activity(db, title="Alleen Nederlands")
    other = client.get(f"/activities/{b.id}?lang=en").get_data(as_text=True)
    assert "This text is in Dutch." in other and 'lang="nl" dir="auto">Alleen Nederlands' in other


def test_detail_of_unknown_or_unpublished_activity_is_a_friendly_404(
    client: FlaskClient, db: Session
) -> None:
    draft = f.activity(db, status="draft")
    for url in ("/activities/999999", f"/activities/{draft.id}", f"/activities/{draft.id}.ics"):
        page = client.get(url + "?lang=en")
        assert page.status_code == 404
        assert "We cannot find this page." in page.get_data(as_text=True)


def test_calendar_file_parses_back(client: FlaskClient, db: Session) -> None:
    a = f.activity(db, title="Koffie; met, komma's", welcome_instructions=HOSTILE)
    page = client.get(f"/activities/{a.id}.ics")
    assert page.status_code == 200 and page.mimetype == "text/calendar"
    cal = Calendar.from_ical(page.data)
    events = cal.walk("VEVENT")
    assert len(events) == 1  # the next time, not twenty weeks of events to delete one by one
    assert str(events[0]["SUMMARY"]) == "Koffie; met, komma's"
    assert HOSTILE in str(events[0]["DESCRIPTION"])
    assert events[0].decoded("DTSTART").hour == 13  # 14:00 Brussels in UTC
    # A family's chosen day (their status page links it), else the next time.
    chosen = client.get(f"/activities/{a.id}.ics?session=2026-12-16T13:00:00")
    (event,) = Calendar.from_ical(chosen.data).walk("VEVENT")
    assert event.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 12, 16, 13, 0)
    unknown = client.get(f"/activities/{a.id}.ics?session=nonsense")
    (event,) = Calendar.from_ical(unknown.data).walk("VEVENT")
    assert event.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 12, 2, 13, 0)


def test_map_popups_are_plain_text(client: FlaskClient, db: Session) -> None:
    for i in range(3):
        f.activity(db, title=HOSTILE + str(i), offset_km=(0.1 * i, 0))
    html = client.get("/activities?where=9000").get_data(as_text=True)
    data = f.results_map(client, html)
    titles = sorted(p[2] for p in data["points"])
    assert titles == [HOSTILE + str(i) for i in range(3)]  # plain text: map.js sets textContent
    assert all(p[3].startswith("/activities/") for p in data["points"])


def test_the_map_comes_apart_from_the_list(
    client: FlaskClient, db: Session, gent: list[int]
) -> None:
    """The list page carries no pins and loads no Leaflet: map.js fetches both when the map
    comes near the screen. The map has the list's search (every page the same map), in the
    page's language; without JavaScript a note says the list has the same activities."""
    html = client.get("/activities?where=9000&lang=en&tag=free_drinks&page=1").get_data(
        as_text=True
    )
    assert "leaflet" not in html.split("<body", 1)[0]  # no stylesheet in the head
    assert not re.search(r'<script src="[^"]*leaflet', html)
    assert '<script type="application/json"' not in html
    src = re.search(r'data-map-src="([^"]+)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert src.startswith("/activities/map?") and "lang=en" in src and "tag=free_drinks" in src
    assert "page=" not in src
    assert re.search(r'data-leaflet="/static/vendor/leaflet-1.9.4/leaflet.js\?v=\w+"', html)
    assert "The map only works with JavaScript. The list above has the same activities." in html
    assert '<a href="#map-title">' in html and "See these activities on a map" in html
    data = client.get(src).get_json()
    assert len(data["points"]) == 4 and data["tiles"] and data["bounds"]
    # Its words are the page's: the same time as the first card, in the same language.
    first = data["points"][0]
    assert first[4].startswith("Today, \u206614:00–16:00\u2069 · ")
    assert first[2] in html
    arabic = client.get(src.replace("lang=en", "lang=ar")).get_json()
    assert arabic["points"][0][4].startswith("اليوم")


def test_the_map_refuses_a_bad_search_in_the_visitors_language(client: FlaskClient) -> None:
    page = client.get("/activities/map?where=Nergensdorp&lang=fr")
    assert page.status_code == 400 and page.mimetype == "application/json"
    assert page.get_json()["error"]["code"] == "unknown_place"
    assert "Nergensdorp" in page.get_json()["error"]["message"]
    assert (
        page.get_json()["error"]["message"]
        != client.get("/activities/map?where=Nergensdorp&lang=nl").get_json()["error"]["message"]
    )
    empty = client.get("/activities?where=9000&lang=en").get_data(as_text=True)
    assert "data-map-src" not in empty  # nothing found: no map, no map.js


def test_many_results_are_grouped_on_the_map_not_dropped(
    client: FlaskClient, db: Session, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAP_CLUSTER_FROM", 5)
    for i in range(4):
        f.activity(db, title=f"Eerst {i}", offset_km=(0.05 * i, 0))
    few = client.get("/activities?where=9000").get_data(as_text=True)
    assert "cluster" not in f.results_map(client, few)
    for i in range(4):
        f.activity(db, title=f"Meer {i}", offset_km=(0, 0.05 * i))
    many = client.get("/activities?where=9000").get_data(as_text=True)
    data = f.results_map(client, many)
    assert data["cluster"] is True and len(data["points"]) == 8
    # map.js loads the grouping script (ours, fingerprinted) only for such a map.
    assert re.search(r'data-cluster="/static/vendor/leaflet.markercluster-1.5.3/[^"]+\.js', many)
    assert "cdnjs" not in many and "unpkg" not in many


def test_language_choice_order(client: FlaskClient) -> None:
    def lang_of(url: str, **headers: str) -> str:
        html = client.get(url, headers=headers).get_data(as_text=True)
        return re.search(r'<html lang="(\w+)"', html).group(1)  # type: ignore[union-attr]

    assert lang_of("/") == "nl"  # nothing known: Dutch
    assert lang_of("/", **{"Accept-Language": "ar-MA,ar;q=0.9,fr;q=0.5"}) == "ar"
    assert lang_of("/", **{"Accept-Language": "de,en;q=0.5"}) == "en"
    assert "lang=uk" in client.get("/?lang=uk").headers.get("Set-Cookie", "")
    assert lang_of("/", **{"Accept-Language": "ar"}) == "uk"  # the earlier choice wins
    assert lang_of("/?lang=tr", **{"Accept-Language": "ar"}) == "tr"  # the link wins
    assert lang_of("/?lang=xx") == "tr"  # an unknown code is ignored (cookie from the line above)


def test_links_and_forms_keep_the_language(client: FlaskClient, gent: list[int]) -> None:
    html = client.get("/activities?where=9000&lang=en").get_data(as_text=True)
    main = html.split('<main id="main"', 1)[1]  # the language switcher links elsewhere on purpose
    links = re.findall(r'href="(/activities[^"]*)"', main)
    assert links and all("lang=en" in link for link in links)
    assert '<input type="hidden" name="lang" value="en">' in html


def test_security_headers_on_every_page(client: FlaskClient, gent: list[int]) -> None:
    for url in (
        "/",
        "/activities?where=9000",
        "/activities/map?where=9000",
        f"/activities/{gent[0]}",
        "/activities?where=x",
        "/nope",
    ):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "nonce" not in csp
        assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "Permissions-Policy" in headers


def test_no_page_has_an_inline_script(client: FlaskClient, gent: list[int]) -> None:
    """Every script is a static file; the results map fetches its data (JSON, never run)."""
    for url in ("/", "/activities?where=9000", f"/activities/{gent[0]}"):
        html = client.get(url).get_data(as_text=True)
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
        assert inline == [], url


def test_static_assets_are_fingerprinted_and_cached(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/meegaan.css\?v=[0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    page = client.get(css)
    assert page.status_code == 200 and "immutable" in page.headers["Cache-Control"]


def test_pages_are_compressed(client: FlaskClient, gent: list[int]) -> None:
    page = client.get("/activities?where=9000", headers={"Accept-Encoding": "br, gzip"})
    assert page.headers["Content-Encoding"] == "br"
    api = client.get("/api/v1/activities?where=9000", headers={"Accept-Encoding": "gzip"})
    assert api.headers["Content-Encoding"] == "gzip"


def test_detail_shows_the_organisers_contact_and_refuses_script_links(
    client: FlaskClient, db: Session
) -> None:
    org = f.organisation(db, contact_phone="09 123 45 67", website="javascript:alert(1)")
    a = f.activity(db, org=org)
    html = client.get(f"/activities/{a.id}?lang=en").get_data(as_text=True)
    assert 'href="tel:091234567"' in html
    assert "javascript:" not in html
    org.website = "https://buurt.example.be"
    db.flush()
    html = client.get(f"/activities/{a.id}?lang=en").get_data(as_text=True)
    assert 'href="https://buurt.example.be"' in html


def test_server_error_is_a_friendly_page_in_the_visitors_language(app: Flask) -> None:
    broken = create_app({**app.config, "TESTING": False, "PROPAGATE_EXCEPTIONS": False})

    @broken.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    @broken.get("/api/v1/boom")
    def api_boom() -> str:
        raise RuntimeError("boom")

    page = broken.test_client().get("/boom?lang=nl")
    assert page.status_code == 500
    assert "Er ging bij ons iets mis." in page.get_data(as_text=True)
    api = broken.test_client().get("/api/v1/boom?lang=en")
    assert api.status_code == 500 and api.get_json()["error"]["code"] == "server_error"


def test_detail_lists_five_dates_even_for_a_monthly_activity(
    client: FlaskClient, db: Session
) -> None:
    a = f.activity(
        db, title="Maandelijks", rrule="FREQ=MONTHLY;BYDAY=1SA", first=datetime(2026, 1, 3, 10)
    )
    html = client.get(f"/activities/{a.id}?lang=en").get_data(as_text=True)
    dates = html.split('<ul class="dates">', 1)[1].split("</ul>", 1)[0]
    assert dates.count("<li>") == 5
    assert "Saturday 5 December" in dates and "Saturday 3 April" in dates


@pytest.mark.parametrize(
    ("lang", "direction", "found", "today"),
    [
        ("ar", "rtl", "وجدنا 4 أنشطة", "اليوم"),
        ("fa", "rtl", "4 فعالیت پیدا شد", "امروز"),
        ("uk", "ltr", "Знайдено 4 заходи", "Сьогодні"),
        ("ru", "ltr", "Найдено 4 занятия", "Сегодня"),
        ("tr", "ltr", "4 etkinlik bulundu", "Bugün"),
        ("fr", "ltr", "4 activités trouvées", "Aujourd’hui"),
    ],
)
def test_results_in_every_language(
    client: FlaskClient, gent: list[int], lang: str, direction: str, found: str, today: str
) -> None:
    html = client.get(f"/activities?where=9000&lang={lang}").get_data(as_text=True)
    assert f'<html lang="{lang}" dir="{direction}">' in html
    assert found in html
    assert (
        f"{today}، \u206614:00–16:00\u2069" in html or f"{today}, \u206614:00–16:00\u2069" in html
    )


def test_dates_in_the_page_language(client: FlaskClient, db: Session) -> None:
    a = f.activity(db, rrule="FREQ=WEEKLY;BYDAY=FR", first=datetime(2026, 11, 6, 10))
    for lang, day in [
        ("ar", "الجمعة 4 ديسمبر"),
        ("uk", "пʼятниця, 4 грудня"),
        ("tr", "4 Aralık Cuma"),
        ("fr", "vendredi 4 décembre"),
        ("nl", "vrijdag 4 december"),
    ]:
        html = client.get(f"/activities/{a.id}?lang={lang}").get_data(as_text=True)
        assert day in html, (lang, day)


def test_hreflang_alternates_for_every_language(client: FlaskClient) -> None:
    html = client.get("/activities?where=9000&lang=ar").get_data(as_text=True)
    for code in ("nl", "fr", "en", "ar", "uk", "tr", "ru", "fa", "x-default"):
        assert f'hreflang="{code}" href="http://localhost/activities?where=9000&amp;lang=' in html
    assert (
        '<a href="/activities?where=9000&amp;lang=uk" lang="uk" dir="ltr" hreflang="uk">'
        "Українська</a>" in html
    )


def test_language_switch_keeps_every_parameter_in_its_place(client: FlaskClient) -> None:
    html = client.get(
        "/activities?tag=free&lang=fr&tag=walk_in&where=Sint-Niklaas&q=caf%C3%A9"
    ).text
    assert (
        'href="/activities?tag=free&amp;tag=walk_in&amp;lang=ar&amp;where=Sint-Niklaas&amp;'
        'q=caf%C3%A9" lang="ar" dir="rtl"' in html
    )
    html = client.get("/activities?where=9000").text  # no lang yet: it comes last
    assert 'href="/activities?where=9000&amp;lang=tr" lang="tr"' in html
    assert 'href="/?lang=fa" lang="fa"' in client.get("/").text


def test_original_language_label_in_the_page_language(client: FlaskClient, db: Session) -> None:
    a = f.activity(db, title="Koffiemoment")
    html = client.get(f"/activities/{a.id}?lang=ar").get_data(as_text=True)
    assert "هذا النص باللغة الهولندية." in html


def test_read_aloud_button_carries_the_key_facts_with_their_languages(
    client: FlaskClient, db: Session
) -> None:
    import html as html_lib
    import json

    a = f.activity(db, title="Koffiemoment", tags=("buddy", "walk_in"), cost_type="free")
    page = client.get(f"/activities/{a.id}?lang=ar").get_data(as_text=True)
    button = re.search(r"<button[^>]*data-read-aloud[^>]*>", page).group(0)  # type: ignore[union-attr]
    assert " hidden " in button  # shown by read-aloud.js only where a voice exists
    parts = json.loads(html_lib.unescape(re.search(r"data-speech='([^']*)'", button).group(1)))  # type: ignore[union-attr]
    assert parts[0] == {"lang": "nl", "text": "Koffiemoment"}
    texts = [p["text"] for p in parts[1:]]
    assert all(p["lang"] == "ar" for p in parts[1:])
    assert any(t.startswith("متى: اليوم") for t in texts) and "التكلفة: مجاني" in texts
    assert "يمكن لمرافق (buddy) أن يذهب معك" in texts and "ادخل مباشرة، لا حاجة للتسجيل" in texts


def test_organiser_text_keeps_line_breaks_and_links_safely(
    client: FlaskClient, db: Session
) -> None:
    a = f.activity(
        db,
        description="Lijn een.\nMeer op https://buurt.example.be/kalender. <script>x</script>"
        " javascript:alert(1)",
    )
    html = client.get(f"/activities/{a.id}").get_data(as_text=True)
    assert 'class="text"' in html and "Lijn een.\nMeer op" in html
    assert (
        '<a href="https://buurt.example.be/kalender" rel="nofollow noopener noreferrer">'
        "https://buurt.example.be/kalender</a>." in html
    )
    assert "<script>x</script>" not in html and 'href="javascript' not in html


@pytest.mark.parametrize("lang", ["nl", "ar"])
def test_detail_addresses_are_what_url_for_writes(app: Flask, lang: str) -> None:
    """Detail addresses are made from one `url_for` answer per request and language; for any
    title, inside or outside, they are what `url_for` itself writes."""
    from flask import url_for

    from finder.text import slugify
    from finder.web.present import detail_url

    titles = [
        "Koffie & babbel",
        "لقاء القهوة للأمهات",
        "Кава / чай? #1 100%",
        "a/b?c=d#e 'x' \"y\" <z>",
        "🍵 ☕",
        "",
        "Ça va — Café",
    ]
    with app.test_request_context(f"/activities?lang={lang}", base_url="https://localhost"):
        for external in (False, True):
            for i, title in enumerate(titles, start=1):
                expected = url_for(
                    "public.detail", activity_id=i, slug=slugify(title), _external=external
                )
                assert detail_url(i, title, external) == expected
            assert f"lang={lang}" in detail_url(1, "x", external)


def test_a_page_writes_each_session_once_and_each_one_right(app: Flask) -> None:
    """Words keeps a session's words for the page (a map's pins share a few times); two
    sessions that start together but end apart still read apart."""
    from datetime import timedelta

    from finder.schedule import Session as Timed
    from finder.web.present import words_now

    start = datetime(2026, 12, 2, 13, 0)  # 14:00 in Brussels, the test clock's day
    with app.test_request_context("/activities?lang=nl"):
        words = words_now()
        short = words.session(Timed(start, start + timedelta(hours=1)))
        long = words.session(Timed(start, start + timedelta(hours=2)))
        tomorrow = words.session(
            Timed(start + timedelta(days=1), start + timedelta(days=1, hours=1))
        )
        assert short == "Vandaag, \u206614:00–15:00\u2069"
        assert long == "Vandaag, \u206614:00–16:00\u2069"
        assert tomorrow == "Morgen, \u206614:00–15:00\u2069"
        assert words.session(Timed(start, start + timedelta(hours=1))) is short
    with app.test_request_context("/activities?lang=fr"):
        assert (
            words_now().session(Timed(start, start + timedelta(hours=1))).startswith("Aujourd’hui")
        )


def test_an_activity_has_one_address_any_other_slug_moves_there(
    client: FlaskClient, db: Session
) -> None:
    a = f.activity(db, title="Café & taart")
    own = client.get(f"/activities/{a.id}-cafe-taart?lang=ar")
    assert own.status_code == 200
    assert client.get(f"/activities/{a.id}").status_code == 200  # DESIGN §7: a slug may follow
    for other in ("anything", "cafe-taart-old", "%7B%7B7*7%7D%7D"):
        moved = client.get(f"/activities/{a.id}-{other}?lang=ar")
        assert moved.status_code == 301
        assert moved.headers["Location"] == f"/activities/{a.id}-cafe-taart?lang=ar"
