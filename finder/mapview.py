"""The results map: one folium GeoJson layer for all results, built from our own static Leaflet.

Only the map's `<div>` and its script are used; the page loads Leaflet itself (no CDN) and runs
the script under the page's CSP nonce. folium's GeoJsonPopup and
GeoJsonTooltip insert properties with innerHTML, so every text is escaped here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import folium
from branca.element import MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template
from markupsafe import escape


@dataclass(frozen=True)
class MapPoint:
    lat: float
    lon: float
    title: str  # plain text
    url: str
    detail: str  # plain text: next date, distance


@dataclass(frozen=True)
class RenderedMap:
    html: str
    script: str
    clustered: bool = False


class _Attribution(MacroElement):
    """Leaflet's attribution without its prefix (its inline-styled flag breaks a strict CSP)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Attribution"

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.attribution({prefix: false}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )


def build_map(
    points: list[MapPoint],
    center: tuple[float, float],
    tile_url: str,
    tile_attribution: str,
    home: tuple[float, float] | None = None,
    zoom: int | None = None,
    cluster_from: int | None = None,
) -> RenderedMap:
    """The map of `points`; fitted around them (and home), or at a fixed `zoom` on `center`.

    From `cluster_from` points on, nearby points are grouped into one numbered circle
    (leaflet.markercluster, vendored) that opens on a tap: every result stays on the map.
    """
    fmap = folium.Map(
        location=list(center),
        zoom_start=zoom or 13,
        tiles=None,
        attribution_control=False,
        control_scale=False,
        prefer_canvas=False,
        width="100%",
        height="100%",
    )
    if tile_url:
        folium.TileLayer(tiles=tile_url, attr=tile_attribution, max_zoom=19).add_to(fmap)
    fmap.add_child(_Attribution())
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            "properties": {
                "popup": f'<a dir="auto" href="{escape(p.url)}">{escape(p.title)}</a>'
                f'<br><span dir="auto">{escape(p.detail)}</span>',
                "label": str(escape(p.title)),
            },
        }
        for p in points
    ]
    parent: Any = fmap
    if features and cluster_from is not None and len(features) >= cluster_from:
        parent = MarkerCluster(  # type: ignore[no-untyped-call]
            options={"showCoverageOnHover": False, "maxClusterRadius": 50, "chunkedLoading": True}
        )
        parent.add_to(fmap)
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name="results",
            marker=folium.CircleMarker(
                radius=9, weight=2, color="#0b5394", fill_color="#3d85c6", fill_opacity=0.9
            ),
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
            zoom_on_click=False,
        ).add_to(parent)
    if features and zoom is None:
        lats = [p.lat for p in points] + ([home[0]] if home else [])
        lons = [p.lon for p in points] + ([home[1]] if home else [])
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))
    root: Any = fmap.get_root()
    root.render()
    html = root.html.render()
    script = root.script.render()
    return RenderedMap(html=html, script=script, clustered=parent is not fmap)
