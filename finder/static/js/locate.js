/* "Use my location": progressive enhancement of the search form (the form works without it). */
(function () {
  'use strict';
  var button = document.querySelector('[data-locate]');
  if (!button || !('geolocation' in navigator)) { return; }
  var form = button.form;
  var status = form.querySelector('[data-locate-status]');
  var where = form.querySelector('#where');
  button.hidden = false;
  where.addEventListener('input', function () {
    form.querySelector('[data-lat]').value = '';
    form.querySelector('[data-lon]').value = '';
  });
  button.addEventListener('click', function () {
    status.textContent = button.getAttribute('data-wait') || '…';
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.querySelector('[data-lat]').value = pos.coords.latitude.toFixed(5);
      form.querySelector('[data-lon]').value = pos.coords.longitude.toFixed(5);
      where.value = '';
      form.submit();
    }, function () {
      status.textContent = button.getAttribute('data-fail');
    }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 });
  });
}());
