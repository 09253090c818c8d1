"""geo.py: the gazetteer resolves what families type; distances and boxes."""

from __future__ import annotations

import pytest
from geopy.distance import great_circle

from finder.geo import UnknownPlace, bounding_box, distance_km, gazetteer


@pytest.mark.parametrize(
    ("typed", "postcode", "name"),
    [
        ("9000", "9000", "Gent"),
        ("Gent", "9000", "Gent"),
        ("gent", "9000", "Gent"),
        ("Gand", "9000", "Gand"),
        ("Ghent", "9000", "Ghent"),
        ("Ledeberg", "9050", "Ledeberg"),
        ("Sint Niklaas", "9100", "Sint-Niklaas"),
        ("sint-niklaas", "9100", "Sint-Niklaas"),
        ("St-Niklaas", "9100", "Sint-Niklaas"),
        ("2060", "2060", "Antwerpen"),
        ("  Mechelen ", "2800", "Mechelen"),
        ("Borgerhout", "2140", "Borgerhout"),
    ],
)
def test_resolves_what_families_type(typed: str, postcode: str, name: str) -> None:
    place = gazetteer().resolve(typed)
    assert (place.postcode, place.name) == (postcode, name)


def test_brussels_names_in_both_languages() -> None:
    gaz = gazetteer()
    assert gaz.resolve("Elsene").postcode == gaz.resolve("Ixelles").postcode == "1050"
    assert gaz.resolve("Brussel").postcode == gaz.resolve("Bruxelles").postcode == "1000"
    assert gaz.resolve("Schaarbeek").municipality_fr == "Schaerbeek"


def test_covers_every_belgian_postcode() -> None:
    gaz = gazetteer()
    assert len(gaz.entries) > 1100
    for entry in gaz.entries:
        assert 49.4 < entry.lat < 51.6 and 2.5 < entry.lon < 6.5, entry
        assert entry.municipality_nl and entry.municipality_fr


def test_unknown_place_suggests_close_matches() -> None:
    with pytest.raises(UnknownPlace) as err:
        gazetteer().resolve("Gentt")
    assert "Gent" in err.value.suggestions


def test_unknown_postcode_suggests_neighbours() -> None:
    with pytest.raises(UnknownPlace) as err:
        gazetteer().resolve("9999")
    assert err.value.suggestions and all(s[0] == "9" for s in err.value.suggestions)


def test_nonsense_has_no_suggestions_and_raises() -> None:
    with pytest.raises(UnknownPlace) as err:
        gazetteer().resolve("<script>")
    assert err.value.suggestions == []


def test_coordinates_are_named_after_the_nearest_postcode() -> None:
    place = gazetteer().at(51.054, 3.725)
    assert place.municipality_nl == "Gent" and place.postcode is None


def test_bounding_box_contains_the_circle() -> None:
    lat, lon = 51.04, 3.71
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, 5)
    assert distance_km(lat, lon, max_lat, lon) == pytest.approx(5, rel=0.01)
    assert distance_km(lat, lon, lat, max_lon) == pytest.approx(5, rel=0.01)
    assert min_lat < lat < max_lat and min_lon < lon < max_lon


@pytest.mark.parametrize(
    ("lat", "radius_km"), [(51.054, 5), (50.85, 0.5), (49.51, 50), (50.0, 2.2), (-33.9, 5)]
)
def test_the_bands_of_a_box_hold_every_point_in_it(lat: float, radius_km: float) -> None:
    """Every latitude of a search box lies in one of the bands search asks for (on a band's
    edge and south of the equator too), and no band lies wholly outside it."""
    import random

    from finder.geo import BANDS_PER_DEGREE, band_of, bands_between

    min_lat, max_lat, _, _ = bounding_box(lat, 4.0, radius_km)
    bands = bands_between(min_lat, max_lat)
    assert bands == list(range(bands[0], bands[-1] + 1))
    rnd = random.Random(7)
    points = [min_lat, max_lat, *(rnd.uniform(min_lat, max_lat) for _ in range(5000))]
    points += [b / BANDS_PER_DEGREE for b in bands if min_lat <= b / BANDS_PER_DEGREE <= max_lat]
    assert {band_of(p) for p in points} == set(bands)
    assert band_of(50.0001) == band_of(50.0199) == band_of(50.02) - 1  # 1/50 degree high


def test_distance_gent_antwerpen() -> None:
    assert distance_km(51.054, 3.717, 51.219, 4.402) == pytest.approx(50.8, abs=1.5)


@pytest.mark.parametrize(
    "points",
    [
        ((51.054, 3.717), (51.219, 4.402)),
        ((50.85, 4.35), (50.8501, 4.3502)),
        ((49.5, 5.8), (51.5, 2.6)),
    ],
)
def test_distance_is_geopys_great_circle(points: tuple[tuple[float, float], ...]) -> None:
    (a, b), (c, d) = points
    assert distance_km(a, b, c, d) == pytest.approx(great_circle((a, b), (c, d)).km, rel=1e-12)


# --- Geocoding: no network here, so the fallback is the normal case ------------------------

import json  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from http.server import BaseHTTPRequestHandler, HTTPServer  # noqa: E402

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from finder.geo import GeocoderSettings, locate  # noqa: E402
from finder.models import GeocodeCache  # noqa: E402

from .conftest import NOW  # noqa: E402

UNREACHABLE = GeocoderSettings(domain="127.0.0.1:9", scheme="http", timeout=1.0)


def test_without_network_the_postcode_point_is_used(db: Session) -> None:
    place = locate(db, "Sleepstraat 1", "9000", UNREACHABLE, NOW)
    entry = gazetteer().by_postcode["9000"]
    assert (place.lat, place.lon, place.precision) == (entry.lat, entry.lon, "postcode")
    assert db.scalar(select(func.count(GeocodeCache.id))) == 0


@pytest.fixture()
def nominatim() -> Iterator[tuple[GeocoderSettings, list[str]]]:
    """A local stand-in answering like Nominatim's /search (the real one is not reachable here)."""
    asked: list[str] = []
    answers = {"Sleepstraat": ("51.0625", "3.7270"), "Kerkstraat": ("50.8503", "4.3517")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            hit = next((v for k, v in answers.items() if k in self.path), None)
            body = json.dumps(
                [{"lat": hit[0], "lon": hit[1], "display_name": "x", "place_id": 1}] if hit else []
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield GeocoderSettings(domain=f"127.0.0.1:{server.server_port}", scheme="http"), asked
    server.shutdown()


def test_found_address_is_exact_and_cached(
    db: Session, nominatim: tuple[GeocoderSettings, list[str]]
) -> None:
    settings, asked = nominatim
    first = locate(db, "Sleepstraat 1", "9000", settings, NOW)
    again = locate(db, "Sleepstraat 1", "9000", settings, NOW)
    assert (
        (first.lat, first.lon, first.precision)
        == (51.0625, 3.727, "exact")
        == (again.lat, again.lon, again.precision)
    )
    assert len(asked) == 1 and "countrycodes=be" in asked[0]


def test_an_answer_far_from_the_postcode_is_not_trusted(
    db: Session, nominatim: tuple[GeocoderSettings, list[str]]
) -> None:
    settings, _asked = nominatim
    place = locate(db, "Kerkstraat 5", "9000", settings, NOW)  # the stand-in answers Brussels
    assert place.precision == "postcode"


def test_fold_takes_a_shortcut_for_plain_ascii_that_changes_nothing() -> None:
    """fold() skips decomposition for ASCII text; every ASCII character folds as the full
    way folds it, and accents still fold away."""
    import re
    import unicodedata

    from finder.text import fold

    def the_long_way(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text)
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        return re.sub(r"[^\w]+", " ", stripped.casefold()).replace("_", " ").strip()

    for code in range(128):
        text = f"Ab{chr(code)}Koffie-Moment_2 "
        assert fold(text) == the_long_way(text)
    assert fold("Café Ça VA") == "cafe ca va" == the_long_way("Café Ça VA")
