/* The search form's enhancements (the form works without them): town suggestions, fetched
   once and kept by the browser, and "use my location". */
(function () {
  'use strict';
  var where = document.getElementById('where');
  if (!where) { return; }
  var form = where.form;

  var places = document.getElementById('places');
  function suggest() {
    where.removeEventListener('focus', suggest);
    where.removeEventListener('input', suggest);
    if (!places || !places.getAttribute('data-src') || !window.fetch) { return; }
    fetch(places.getAttribute('data-src')).then(function (answer) {
      return answer.ok ? answer.json() : [];
    }).then(function (names) {
      var list = document.createDocumentFragment();
      names.forEach(function (name) {
        var option = document.createElement('option');
        option.value = name;
        list.appendChild(option);
      });
      places.appendChild(list);
    }).catch(function () { /* no suggestions: typing still works */ });
  }
  where.addEventListener('focus', suggest);
  where.addEventListener('input', suggest);

  var button = form.querySelector('[data-locate]');
  if (!button || !('geolocation' in navigator)) { return; }
  var status = form.querySelector('[data-locate-status]');
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
