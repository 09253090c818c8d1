/* The maps of results and of the printable slip, drawn with our own Leaflet (see
   finder/mapview.py). Every text goes in with textContent: an organiser's title can never
   become markup. Without JavaScript the list has everything.

   A map with `data-map` draws from a JSON block in the page (Leaflet is loaded by the page).
   A map with `data-map-src` (the results page) waits until it comes near the screen, then
   loads Leaflet and fetches its points: a family who reads only the list pays for neither. */
(function () {
  'use strict';
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

  function draw(box, data) {
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

  function script(src) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement('script');
      el.src = src;
      el.onload = resolve;
      el.onerror = reject;
      document.head.appendChild(el);
    });
  }

  function stylesheet(href) {
    var el = document.createElement('link');
    el.rel = 'stylesheet';
    el.href = href;
    document.head.appendChild(el);
  }

  function fetchAndDraw(box) {
    var note = box.querySelector('.map-note');
    stylesheet(box.getAttribute('data-leaflet-css'));
    var points = fetch(box.getAttribute('data-map-src'), { credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) { throw new Error('map ' + response.status); }
        return response.json();
      });
    var leaflet = window.L ? Promise.resolve() : script(box.getAttribute('data-leaflet'));
    Promise.all([points, leaflet]).then(function (loaded) {
      var data = loaded[0];
      if (!data.cluster || L.markerClusterGroup) { return data; }
      stylesheet(box.getAttribute('data-cluster-css'));
      return script(box.getAttribute('data-cluster')).then(function () { return data; });
    }).then(function (data) {
      if (note) { note.parentNode.removeChild(note); }
      draw(box, data);
    }).catch(function () {
      if (note) { note.textContent = note.getAttribute('data-failed'); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-map]'), function (box) {
    var source = document.getElementById(box.getAttribute('data-map'));
    if (source && window.L) { draw(box, JSON.parse(source.textContent)); }
  });

  Array.prototype.forEach.call(document.querySelectorAll('[data-map-src]'), function (box) {
    var note = box.querySelector('.map-note');
    if (note) { note.textContent = note.getAttribute('data-loading'); }
    if (!('IntersectionObserver' in window)) { fetchAndDraw(box); return; }
    var watch = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) {
        watch.disconnect();
        fetchAndDraw(box);
      }
    }, { rootMargin: '600px 0px' });
    watch.observe(box);
  });
}());
