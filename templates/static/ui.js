/* Small enhancements for the ekEvents UI; every page works without them. */
'use strict';
document.addEventListener('click', function (e) {
  var copy = e.target.closest('[data-copy]');
  if (copy) {
    var source = document.getElementById(copy.getAttribute('data-copy'));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent).then(function () {
        copy.textContent = 'Copied';
        setTimeout(function () { copy.textContent = 'Copy'; }, 1500);
      });
    }
  }
  var confirmer = e.target.closest('[data-confirm]');
  if (confirmer && !window.confirm(confirmer.getAttribute('data-confirm'))) e.preventDefault();
});

/* Live debugger: rows from the Server-Sent Events stream, newest on top. Text only. */
(function () {
  var table = document.getElementById('live');
  if (!table || !window.EventSource) return;
  var body = table.tBodies[0], state = document.getElementById('live-state');
  var source = new EventSource(table.getAttribute('data-stream'));
  source.onopen = function () { state.textContent = 'live'; state.className = 'badge ok'; };
  source.onerror = function () { state.textContent = 'reconnecting…'; state.className = 'badge warn'; };
  source.onmessage = function (message) {
    var e = JSON.parse(message.data), row = body.insertRow(0);
    var details = e.reasons
      ? e.reasons.map(function (r) { return r.code + ' ' + r.path + ': ' + r.message; }).join('; ')
      : Object.keys(e.params || {}).map(function (k) { return k + '=' + JSON.stringify(e.params[k]); }).join(' ');
    [e.at, e.status, e.event || '(none)', e.key, details].forEach(function (text, i) {
      var cell = row.insertCell(i);
      cell.textContent = text;
      if (i === 1) cell.className = e.status === 'failed' ? 'status bad' : 'status ok';
    });
    row.className = 'live-' + e.status;
    while (body.rows.length > 200) body.deleteRow(-1);
  };
})();

/* definitions: the web-tracking editor shows only the inputs a rule's trigger uses. Without
   JavaScript every input shows and the server ignores the ones the trigger does not use. */
(function () {
  function showTriggerInputs(rule) {
    var on = rule.querySelector('select[name$="-on"]');
    if (!on) return;
    var page = on.value === 'page';
    rule.querySelectorAll('[data-when]').forEach(function (el) {
      el.hidden = (el.getAttribute('data-when') === 'page') !== page;
    });
  }
  document.querySelectorAll('fieldset.rule').forEach(showTriggerInputs);
  document.addEventListener('change', function (e) {
    var rule = e.target.closest && e.target.closest('fieldset.rule');
    if (rule && /-on$/.test(e.target.name)) showTriggerInputs(rule);
  });
})();
