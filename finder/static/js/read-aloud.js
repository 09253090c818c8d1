/* "Read aloud": reads the key facts of an activity with the browser's own speech synthesis.
   Progressive enhancement: the button stays hidden without JavaScript, without speech synthesis,
   or without a voice for the page's language. Each part carries its own language, so a Dutch
   title on an Arabic page is read by a Dutch voice, or left out when there is none. */
(function () {
  'use strict';
  var button = document.querySelector('[data-read-aloud]');
  if (!button || !('speechSynthesis' in window)) { return; }
  var synth = window.speechSynthesis;
  var pageLang = document.documentElement.lang;
  var label = button.querySelector('span');
  var startText = label.textContent;

  function hasVoice(lang) {
    return synth.getVoices().some(function (v) { return v.lang.toLowerCase().indexOf(lang) === 0; });
  }
  function reveal() { if (hasVoice(pageLang)) { button.hidden = false; } }
  function reset() { label.textContent = startText; }

  reveal();
  synth.addEventListener('voiceschanged', reveal);
  button.addEventListener('click', function () {
    if (synth.speaking) { synth.cancel(); reset(); return; }
    var parts = JSON.parse(button.getAttribute('data-speech')).filter(function (part) {
      return hasVoice(part.lang);  // a Dutch title without a Dutch voice would be noise
    });
    parts.forEach(function (part, i) {
      var utterance = new SpeechSynthesisUtterance(part.text);
      utterance.lang = part.lang;
      if (i === parts.length - 1) { utterance.onend = reset; }
      synth.speak(utterance);
    });
    label.textContent = button.getAttribute('data-stop');
  });
}());
