"""The maps of results and of the printable slip: plain data for our own `static/js/map.js`.

The page carries the points as a JSON data block (`<script type="application/json">`, never
executed) and loads Leaflet, leaflet.markercluster and map.js from our own static files. The
script builds popups and labels with `textContent`, so no text from an organiser can ever
become markup, and the page needs no inline script: the Content-Security-Policy stays
`script-src 'self'` and a rendered page is the same for every visitor (it can be cached
compressed).

Until issue #8 folium generated this script on every request; that cost about half of an
uncached results page (~15 ms of ~35 ms) and needed a per-request CSP nonce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Our vendored Leaflet and leaflet.markercluster (static/vendor/): loaded by the page for a map
# drawn from its data block, by map.js for a map it fetches.
ASSETS = {
    "leaflet": "vendor/leaflet-1.9.4/leaflet.js",
    "leaflet_css": "vendor/leaflet-1.9.4/leaflet.css",
    "leaflet_images": "vendor/leaflet-1.9.4/images/",
    "cluster": "vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js",
    "cluster_css": "vendor/leaflet.markercluster-1.5.3/MarkerCluster.css",
}


class MapPoint(NamedTuple):
    lat: float
    lon: float
    title: str  # plain text
    url: str
    detail: str  # plain text: next date, distance


@dataclass(frozen=True)
class MapData:
    """What map.js needs; `data` is serialised into the page with `tojson`."""

    data: dict[str, Any] = field(default_factory=dict)

    @property
    def clustered(self) -> bool:
        return bool(self.data.get("cluster"))


def build_map(
    points: list[MapPoint],
    center: tuple[float, float],
    tile_url: str,
    tile_attribution: str,
    home: tuple[float, float] | None = None,
    zoom: int | None = None,
    cluster_from: int | None = None,
) -> MapData:
    """The map of `points`; fitted around them (and home), or at a fixed `zoom` on `center`.

    From `cluster_from` points on, nearby points are grouped into one numbered circle
    (leaflet.markercluster, vendored) that opens on a tap: every result stays on the map.
    """
    data: dict[str, Any] = {
        "tiles": tile_url,
        "attribution": tile_attribution,
        "center": [round(center[0], 6), round(center[1], 6)],
        # [lat, lon, title, link, detail]: shorter than GeoJSON for a phone on a data plan
        "points": [[round(p.lat, 6), round(p.lon, 6), p.title, p.url, p.detail] for p in points],
    }
    if zoom is not None or not points:
        data["zoom"] = zoom or 13
    else:
        lats = [p.lat for p in points] + ([home[0]] if home else [])
        lons = [p.lon for p in points] + ([home[1]] if home else [])
        data["bounds"] = [[min(lats), min(lons)], [max(lats), max(lons)]]
    if cluster_from is not None and len(points) >= cluster_from:
        data["cluster"] = True
    return MapData(data)
