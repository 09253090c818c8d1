"""Places: the offline gazetteer of Belgian postcodes, distances, bounding boxes, and geocoding
of addresses with Nominatim when it can be reached (the gazetteer otherwise)."""

from __future__ import annotations

import csv
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path

from geopy.distance import EARTH_RADIUS as EARTH_RADIUS_KM
from sqlalchemy import select
from sqlalchemy.orm import Session

from .resources import DATA
from .text import fold

GAZETTEER_CSV = DATA / "gazetteer.csv"
KM_PER_DEGREE_LAT = 111.32
_POSTCODE = re.compile(r"^\d{4}$")
# A postcode with words around it: "9000 Gent", "Gent 9000", "Deurne (2100 Antwerpen)".
_POSTCODE_IN_TEXT = re.compile(r"(?<!\d)(\d{4})(?!\d)")
# Common short forms people type: "St-Niklaas", "St. Truiden", "St-Gilles", "Ste-Ode".
# What an address around a postcode may carry besides the place: "B-9000 Gent, België".
_COUNTRY_WORDS = {"b", "be", "bel", "belgie", "belgique", "belgium", "belgien"}
_ABBREVIATIONS = {"st": ("sint", "saint"), "ste": ("sainte",)}


@dataclass(frozen=True)
class Place:
    name: str
    postcode: str | None
    lat: float
    lon: float
    municipality_nl: str = ""
    municipality_fr: str = ""


@dataclass(frozen=True, slots=True, eq=False)  # equal only to itself: hashed by identity, fast
class Locality:
    """A village, deelgemeente, town or neighbourhood: one row of data/gazetteer.csv."""

    name: str
    postcode: str
    municipality_nl: str
    municipality_fr: str
    region: str
    lat: float
    lon: float
    population: int
    other_names: tuple[str, ...]

    def label(self, name: str) -> str:
        """ "Deurne (2100 Antwerpen)": which one, when a name has several (the municipality in
        its region's language; Brussels in Dutch, as the French one's locality names are)."""
        municipality = self.municipality_fr if self.region == "wallonia" else self.municipality_nl
        return f"{name} ({self.postcode} {municipality})"


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


class AmbiguousPlace(UnknownPlace):
    """A name several places carry (Deurne): the suggestions say which, most populous first."""


class Gazetteer:
    def __init__(self, localities: list[Locality]) -> None:
        self.localities = localities
        key = cache(fold)  # most names recur (municipality names on every row): fold each once
        # A postcode's first locality is its main one (the CSV lists it first): its point is
        # the postcode's point.
        by_code: dict[str, list[Locality]] = {}
        for loc in localities:
            by_code.setdefault(loc.postcode, []).append(loc)
        self.localities_of = by_code
        self.entries = [self._entry(locs, key) for locs in by_code.values()]
        self.by_postcode = {e.postcode: e for e in self.entries}
        # folded name -> the localities it names, each with the name as written
        self._by_name: dict[str, dict[Locality, str]] = {}
        for loc in localities:
            for name in (loc.name, *loc.other_names):
                self._by_name.setdefault(key(name), {}).setdefault(loc, name)
        # A municipality's name (also one merged away in 2025 that no locality carries) names
        # its locality of that name, else its most populous.
        municipalities: dict[tuple[str, str], list[Locality]] = {}
        for loc in localities:
            municipalities.setdefault((loc.municipality_nl, loc.municipality_fr), []).append(loc)
        for (nl, fr), locs in municipalities.items():
            for name in (nl, fr):
                named = [loc for loc in locs if key(loc.name) == key(name)] or locs
                seat = min(named, key=lambda loc: (-loc.population, loc.postcode))
                self._by_name.setdefault(key(name), {}).setdefault(seat, name)

    @staticmethod
    def _entry(locs: list[Locality], key: Callable[[str], str]) -> PostcodeEntry:
        main = locs[0]
        names: dict[str, str] = {}
        for n in (
            main.municipality_nl,
            main.municipality_fr,
            *(n for loc in locs for n in (loc.name, *loc.other_names)),
        ):
            names.setdefault(key(n), n)
        return PostcodeEntry(
            postcode=main.postcode,
            municipality_nl=main.municipality_nl,
            municipality_fr=main.municipality_fr,
            region=main.region,
            names=tuple(names.values()),
            lat=main.lat,
            lon=main.lon,
        )

    @classmethod
    def load(cls, path: Path = GAZETTEER_CSV) -> Gazetteer:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh)
            header = next(rows)
            assert header[:9] == [
                "postcode", "locality", "municipality_nl", "municipality_fr", "region",
                "lat", "lon", "population", "point",
            ], header  # fmt: skip
            localities = [
                Locality(
                    name=name,
                    postcode=code,
                    municipality_nl=nl,
                    municipality_fr=fr,
                    region=region,
                    lat=float(lat),
                    lon=float(lon),
                    population=int(population or 0),
                    other_names=tuple(names.split("|")) if names else (),
                )
                for code, name, nl, fr, region, lat, lon, population, _point, names in rows
            ]
        return cls(localities)

    def _place(self, entry: PostcodeEntry, name: str | None = None) -> Place:
        return Place(
            name=name or entry.municipality_nl,
            postcode=entry.postcode,
            lat=entry.lat,
            lon=entry.lon,
            municipality_nl=entry.municipality_nl,
            municipality_fr=entry.municipality_fr,
        )

    @staticmethod
    def _locality_place(loc: Locality, name: str) -> Place:
        return Place(
            name=name,
            postcode=loc.postcode,
            lat=loc.lat,
            lon=loc.lon,
            municipality_nl=loc.municipality_nl,
            municipality_fr=loc.municipality_fr,
        )

    def resolve(self, text: str) -> Place:
        """A postcode, a locality or municipality name in any of its languages, or both ("9000
        Gent"); raises AmbiguousPlace for a name several municipalities have, else UnknownPlace."""
        cleaned = text.strip()
        if _POSTCODE.match(cleaned):
            entry = self.by_postcode.get(cleaned)
            if entry is None:
                raise UnknownPlace(cleaned, self._postcode_suggestions(cleaned))
            return self._place(entry)
        code = _POSTCODE_IN_TEXT.search(cleaned)
        if code:
            return self._with_postcode(cleaned, code.group(1))
        found = self._named(cleaned)
        if len(found) == 1:
            loc, name = next(iter(found.items()))
            return self._locality_place(loc, name)
        if not found:
            raise UnknownPlace(cleaned, self.suggest(cleaned))
        by_municipality: dict[tuple[str, str], tuple[Locality, str]] = {}
        for loc, name in sorted(found.items(), key=lambda f: (-f[0].population, f[0].postcode)):
            by_municipality.setdefault((loc.municipality_nl, loc.municipality_fr), (loc, name))
        if len(by_municipality) > 1:
            raise AmbiguousPlace(
                cleaned, [loc.label(name) for loc, name in by_municipality.values()]
            )
        loc, name = next(iter(by_municipality.values()))
        return self._locality_place(loc, name)

    def _named(self, text: str) -> dict[Locality, str]:
        """The localities a name names, with the name as written ("St-Gilles" is "Saint-Gilles"
        or "Sint-Gillis": both are tried). The answer may be the index itself: never change it."""
        words = fold(text).split()
        if not any(word in _ABBREVIATIONS for word in words):  # nearly always: one lookup
            return self._by_name.get(" ".join(words), {})
        keys = [""]
        for word in words:
            keys = [f"{k} {w}".strip() for k in keys for w in _ABBREVIATIONS.get(word, (word,))]
        found: dict[Locality, str] = {}
        for key in keys:
            found.update(self._by_name.get(key, {}))
        return found

    def _with_postcode(self, text: str, code: str) -> Place:
        """ "9000 Gent", "Gent 9000", "Deurne (2100 Antwerpen)": the postcode decides (it is never
        ambiguous); the words pick a locality in it when they name one."""
        entry = self.by_postcode.get(code)
        words = [w for w in re.split(r"[(),;/]", text.replace(code, " ")) if fold(w)]
        if entry is None:
            if words:
                return self.resolve(words[0])
            raise UnknownPlace(code, self._postcode_suggestions(code))
        for word in words:
            for loc, name in self._named(word).items():
                if loc.postcode == code:
                    return self._locality_place(loc, name)
        # Words that name another place ("1000 Antwerpen") or nearly one of this postcode's
        # ("9000 Gnet"): the postcode decides. Words that name nothing: we do not know it.
        known = [n for n in entry.names if len(fold(n)) > 2]
        for word in words:
            key = " ".join(w for w in fold(word).split() if w not in _COUNTRY_WORDS)
            if (
                key
                and not self._named(key)
                and not any(_edit_distance(key, fold(n)) <= 2 for n in known)
            ):
                raise UnknownPlace(text, [f"{code} {entry.municipality_nl}"])
        return self._place(entry)

    def suggest(self, text: str, limit: int = 5) -> list[str]:
        """Names close to a typo ("Gnet", "Gend": Gent first, the most populous of equals),
        then names it begins."""
        key = fold(text)
        if not key:
            return []
        allowed = 1 if len(key) <= 5 else 2
        letters = set(key)
        scored = []
        for k, (name, population, rank, target) in self._suggestible().items():
            if abs(len(k) - len(key)) > allowed or len(letters ^ set(k)) > 2 * allowed:
                continue
            distance = _edit_distance(key, k)
            if distance <= allowed:
                scored.append((distance, -population, rank, k, name, target))
        matches: list[str] = []
        targets = set()
        for *_, name, target in sorted(scored):  # one name per place: Gent, not also Gand
            if target not in targets and len(matches) < limit:
                matches.append(name)
                targets.add(target)
        for k, (name, *_rest) in sorted(self._suggestible().items()):
            if len(matches) >= limit:
                break
            if k.startswith(key) and name not in matches:
                matches.append(name)
        return matches

    @lru_cache(maxsize=1)  # noqa: B019 - one gazetteer per process
    def _suggestible(self) -> dict[str, tuple[str, int, int, Locality]]:
        """Every folded name with the name as written, the population of its largest place,
        what kind of name it is (0 the place's own, 1 its municipality's, 2 another), the place."""
        names = {}
        for key, found in self._by_name.items():
            loc = max(found, key=lambda loc: (loc.population, loc.postcode))
            name = found[loc]
            rank = (
                0
                if name == loc.name
                else 1
                if name in (loc.municipality_nl, loc.municipality_fr)
                else 2
            )
            names[key] = (name, loc.population, rank, loc)
        return names

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
        """Every locality, neighbourhood and municipality name once, sorted, for the where
        field's suggestions (/places.json)."""
        return tuple(sorted((name for name, *_rest in self._suggestible().values()), key=fold))

    @lru_cache(maxsize=1)  # noqa: B019
    def municipality_names(self) -> tuple[str, ...]:
        """Municipality names in Dutch and French (Brussels both)."""
        seen: dict[str, str] = {}
        for e in self.entries:
            for name in (e.municipality_nl, e.municipality_fr):
                seen.setdefault(fold(name), name)
        return tuple(sorted(seen.values(), key=fold))


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: a swap of two neighbouring letters ("Gnet") is one."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


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
