"""Places: the offline gazetteer of Belgian postcodes, distances, bounding boxes, and geocoding
of addresses with Nominatim when it can be reached (the gazetteer otherwise)."""

from __future__ import annotations

import csv
import difflib
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from geopy.distance import EARTH_RADIUS as EARTH_RADIUS_KM
from sqlalchemy import select
from sqlalchemy.orm import Session

from .text import fold

GAZETTEER_CSV = Path(__file__).resolve().parent.parent / "data" / "gazetteer.csv"
KM_PER_DEGREE_LAT = 111.32
_POSTCODE = re.compile(r"^\d{4}$")
# Common short forms people type: "St-Niklaas", "St. Truiden".
_ABBREVIATIONS = {"st": "sint", "ste": "sainte"}


@dataclass(frozen=True)
class Place:
    name: str
    postcode: str | None
    lat: float
    lon: float
    municipality_nl: str = ""
    municipality_fr: str = ""


@dataclass(frozen=True)
class PostcodeEntry:
    postcode: str
    municipality_nl: str
    municipality_fr: str
    region: str
    names: tuple[str, ...]
    lat: float
    lon: float


class UnknownPlace(ValueError):
    def __init__(self, text: str, suggestions: list[str]) -> None:
        super().__init__(text)
        self.text = text
        self.suggestions = suggestions


class Gazetteer:
    def __init__(self, entries: list[PostcodeEntry]) -> None:
        self.entries = entries
        self.by_postcode = {e.postcode: e for e in entries}
        # folded name -> (position of the name in the entry, postcode, display name)
        self._by_name: dict[str, list[tuple[int, str, str]]] = {}
        for e in entries:
            for pos, name in enumerate(e.names):
                self._by_name.setdefault(fold(name), []).append((pos, e.postcode, name))

    @classmethod
    def load(cls, path: Path = GAZETTEER_CSV) -> Gazetteer:
        with path.open(encoding="utf-8") as fh:
            entries = [
                PostcodeEntry(
                    postcode=row["postcode"],
                    municipality_nl=row["municipality_nl"],
                    municipality_fr=row["municipality_fr"],
                    region=row["region"],
                    names=tuple(row["names"].split("|")),
                    lat=float(row["lat"]),
                    lon=float(row["lon"]),
                )
                for row in csv.DictReader(fh)
            ]
        return cls(entries)

    def _place(self, entry: PostcodeEntry, name: str | None = None) -> Place:
        return Place(
            name=name or entry.municipality_nl,
            postcode=entry.postcode,
            lat=entry.lat,
            lon=entry.lon,
            municipality_nl=entry.municipality_nl,
            municipality_fr=entry.municipality_fr,
        )

    def resolve(self, text: str) -> Place:
        """A postcode or a (sub-)municipality name in Dutch or French; raises UnknownPlace."""
        cleaned = text.strip()
        if _POSTCODE.match(cleaned):
            entry = self.by_postcode.get(cleaned)
            if entry is None:
                raise UnknownPlace(cleaned, self._postcode_suggestions(cleaned))
            return self._place(entry)
        key = self._key(cleaned)
        candidates = self._by_name.get(key)
        if not candidates:
            raise UnknownPlace(cleaned, self.suggest(cleaned))
        # The place a name is first of (Gent for 9000, not for 9030 Mariakerke), lowest postcode.
        _pos, postcode, name = min(candidates)
        return self._place(self.by_postcode[postcode], name)

    @staticmethod
    def _key(text: str) -> str:
        words = fold(text).split()
        return " ".join(_ABBREVIATIONS.get(w, w) for w in words)

    def suggest(self, text: str, limit: int = 5) -> list[str]:
        key = self._key(text)
        if not key:
            return []
        names = self.display_names()
        folded = {fold(n): n for n in names}
        matches = [folded[k] for k in difflib.get_close_matches(key, folded, n=limit, cutoff=0.7)]
        for k, name in sorted(folded.items()):
            if len(matches) >= limit:
                break
            if k.startswith(key) and name not in matches:
                matches.append(name)
        return matches

    def _postcode_suggestions(self, code: str) -> list[str]:
        near = sorted(self.by_postcode, key=lambda pc: abs(int(pc) - int(code)))[:3]
        return [f"{pc} {self.by_postcode[pc].municipality_nl}" for pc in sorted(near)]

    def nearest(self, lat: float, lon: float) -> PostcodeEntry:
        return min(self.entries, key=lambda e: (e.lat - lat) ** 2 + ((e.lon - lon) * 0.63) ** 2)

    def at(self, lat: float, lon: float) -> Place:
        """A place for coordinates from the browser, named after the nearest postcode."""
        entry = self.nearest(lat, lon)
        return Place(
            name=entry.municipality_nl,
            postcode=None,
            lat=lat,
            lon=lon,
            municipality_nl=entry.municipality_nl,
            municipality_fr=entry.municipality_fr,
        )

    @lru_cache(maxsize=1)  # noqa: B019 - one gazetteer per process
    def display_names(self) -> tuple[str, ...]:
        """Every municipality and sub-municipality name once, sorted, for autocompletion."""
        seen: dict[str, str] = {}
        for e in self.entries:
            for name in e.names:
                seen.setdefault(fold(name), name)
        return tuple(sorted(seen.values(), key=fold))

    @lru_cache(maxsize=1)  # noqa: B019
    def municipality_names(self) -> tuple[str, ...]:
        """Municipality names in Dutch and French (Brussels both), for the where field's list."""
        seen: dict[str, str] = {}
        for e in self.entries:
            for name in (e.municipality_nl, e.municipality_fr):
                seen.setdefault(fold(name), name)
        return tuple(sorted(seen.values(), key=fold))


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a square that contains the circle."""
    dlat = radius_km / KM_PER_DEGREE_LAT
    dlon = radius_km / (KM_PER_DEGREE_LAT * max(math.cos(math.radians(lat)), 0.01))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


# Search bands (DESIGN §5): every activity stores the number of its band of latitude, 1/50
# degree (2.2 km) high. The search index is led by it, then by longitude, so that a search asks
# for the few bands its circle crosses and reads each one only between the circle's west and
# east, instead of one band of latitude as high as the circle that runs across the country.
# Changing this number needs a migration that numbers every activity again.
BANDS_PER_DEGREE = 50


def band_of(lat: float) -> int:
    """The number of the search band a latitude lies in."""
    return math.floor(lat * BANDS_PER_DEGREE)


def bands_between(min_lat: float, max_lat: float) -> list[int]:
    """The search bands from `min_lat` to `max_lat`, both included."""
    return list(range(band_of(min_lat), band_of(max_lat) + 1))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance: geopy's `great_circle` formula and Earth radius, inlined.

    Search measures thousands of candidates per query; geopy's Point objects cost ~15 µs per
    pair, this ~1 µs. tests/test_geo.py checks that both agree.
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    sin1, cos1, sin2, cos2 = math.sin(p1), math.cos(p1), math.sin(p2), math.cos(p2)
    dlon = math.radians(lon2 - lon1)
    cos_d, sin_d = math.cos(dlon), math.sin(dlon)
    angle = math.atan2(
        math.sqrt((cos2 * sin_d) ** 2 + (cos1 * sin2 - sin1 * cos2 * cos_d) ** 2),
        sin1 * sin2 + cos1 * cos2 * cos_d,
    )
    return float(EARTH_RADIUS_KM) * angle


# --- Geocoding of activity addresses -------------------------------------------------------


@dataclass(frozen=True)
class GeocoderSettings:
    enabled: bool = True
    domain: str = "nominatim.openstreetmap.org"
    scheme: str = "https"
    user_agent: str = "meegaan"
    timeout: float = 3.0


@dataclass(frozen=True)
class Located:
    lat: float
    lon: float
    precision: str  # "exact" (Nominatim) or "postcode" (the gazetteer's point)


_last_request = [0.0]
_request_lock = threading.Lock()
MIN_SECONDS_BETWEEN_REQUESTS = 1.0  # Nominatim's usage policy


def _ask_nominatim(query: str, settings: GeocoderSettings) -> tuple[float, float] | None:
    """One polite request (at most one a second per process); None when unreachable or unknown."""
    from geopy.exc import GeopyError
    from geopy.geocoders import Nominatim

    geocoder = Nominatim(
        user_agent=settings.user_agent,
        domain=settings.domain,
        scheme=settings.scheme,
        timeout=settings.timeout,
    )
    with _request_lock:
        wait = _last_request[0] + MIN_SECONDS_BETWEEN_REQUESTS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            found = geocoder.geocode(query, country_codes="be", exactly_one=True)
        except (GeopyError, OSError):
            found = None
        finally:
            _last_request[0] = time.monotonic()
    if found is None:
        return None
    return float(found.latitude), float(found.longitude)


def locate(
    session: Session,
    street: str,
    postcode: str,
    settings: GeocoderSettings,
    now_utc: datetime,
) -> Located:
    """Where an address is: Nominatim's answer (cached in the database) when it can be had and
    lies near the postcode, else the postcode's point from the gazetteer."""
    from .models import GeocodeCache

    entry = gazetteer().by_postcode[postcode]
    fallback = Located(entry.lat, entry.lon, "postcode")
    if not settings.enabled or not street.strip():
        return fallback
    query = f"{street.strip()}, {postcode} {entry.municipality_nl}, België"
    cached = session.scalar(select(GeocodeCache).where(GeocodeCache.query == query))
    if cached is not None:
        return Located(cached.lat, cached.lon, "exact")
    point = _ask_nominatim(query, settings)
    # An answer far from the postcode is another street of the same name: do not trust it.
    if point is None or distance_km(entry.lat, entry.lon, *point) > MAX_KM_FROM_POSTCODE:
        return fallback
    session.add(GeocodeCache(query=query, lat=point[0], lon=point[1], created_at=now_utc))
    return Located(point[0], point[1], "exact")


MAX_KM_FROM_POSTCODE = 15.0
BELGIUM = {"lat": (49.45, 51.55), "lon": (2.5, 6.45)}


def in_belgium(lat: float, lon: float) -> bool:
    return (
        BELGIUM["lat"][0] <= lat <= BELGIUM["lat"][1]
        and BELGIUM["lon"][0] <= lon <= BELGIUM["lon"][1]
    )
