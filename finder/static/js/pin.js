/* The editor's map: drag the pin to correct where the activity is. Progressive enhancement:
   without JavaScript the organiser types the coordinates in the two fields. */
(function () {
  'use strict';
  var box = document.getElementById('pin-map');
  if (!box || !window.L) { return; }
  var lat = document.getElementById('lat');
  var lon = document.getElementById('lon');
  var start = [parseFloat(lat.value) || parseFloat(box.dataset.lat), parseFloat(lon.value) || parseFloat(box.dataset.lon)];
  box.hidden = false;
  L.Icon.Default.imagePath = box.dataset.images;
  var map = L.map(box, { attributionControl: false }).setView(start, 16);
  if (box.dataset.tiles) {
    L.tileLayer(box.dataset.tiles, { maxZoom: 19 }).addTo(map);
    L.control.attribution({ prefix: false }).addAttribution(box.dataset.attribution).addTo(map);
  }
  var pin = L.marker(start, { draggable: true, keyboard: true, title: box.dataset.label }).addTo(map);
  pin.on('dragend', function () {
    var p = pin.getLatLng();
    lat.value = p.lat.toFixed(5);
    lon.value = p.lng.toFixed(5);
  });
  function follow() {
    var a = parseFloat(lat.value), b = parseFloat(lon.value);
    if (!isNaN(a) && !isNaN(b)) { pin.setLatLng([a, b]); map.panTo([a, b]); }
  }
  lat.addEventListener('change', follow);
  lon.addEventListener('change', follow);
}());
