/* The maps of results and of the printable slip, drawn with our own Leaflet from the page's
   JSON data block (see finder/mapview.py). Every text goes in with textContent: an
   organiser's title can never become markup. Without JavaScript the list has everything. */
(function () {
  'use strict';
  if (!window.L) { return; }
  var PIN = {
    radius: 9, weight: 2, color: '#0b5394', fillColor: '#3d85c6', fillOpacity: 0.9
  };

  function text(tag, value) {
    var el = document.createElement(tag);
    el.dir = 'auto';
    el.textContent = value;
    return el;
  }

  function popup(title, url, detail) {
    var box = document.createElement('div');
    var link = text('a', title);
    link.href = url;
    box.appendChild(link);
    if (detail) {
      box.appendChild(document.createElement('br'));
      box.appendChild(text('span', detail));
    }
    return box;
  }

  function draw(box) {
    var source = document.getElementById(box.getAttribute('data-map'));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var map = L.map(box, { attributionControl: false, zoomControl: true });
    if (data.tiles) {
      L.tileLayer(data.tiles, { maxZoom: 19 }).addTo(map);
    }
    // The operator's attribution (settings, not visitors' text); without Leaflet's prefix,
    // whose inline-styled flag a strict CSP refuses.
    L.control.attribution({ prefix: false }).addAttribution(data.attribution || '').addTo(map);
    var layer = data.cluster && L.markerClusterGroup
      ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50, chunkedLoading: true })
      : L.featureGroup();
    data.points.forEach(function (p) {
      var pin = L.circleMarker([p[0], p[1]], PIN);
      pin.bindPopup(popup(p[2], p[3], p[4]));
      pin.bindTooltip(text('span', p[2]));
      layer.addLayer(pin);
    });
    layer.addTo(map);
    if (data.bounds) {
      map.fitBounds(data.bounds, { padding: [20, 20], maxZoom: 16 });
    } else {
      map.setView(data.center, data.zoom || 13);
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-map]'), draw);
}());
