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

/* segments, scenarios: operators that fit the chosen parameter, only the trigger panel in
   use, and a live count while the segment builder changes. Without JavaScript every
   operator and both panels show, and the Preview button counts. */
(function () {
  var d = document;
  function fitOps(row) {
    var param = row.querySelector('select[data-param]'), op = row.querySelector('select[data-op]');
    var chosen = param && param.options[param.selectedIndex];
    var type = chosen && chosen.getAttribute('data-type');
    if (!op || !type) return;
    var fit = null;
    Array.prototype.forEach.call(op.options, function (o) {
      o.disabled = (' ' + o.getAttribute('data-types') + ' ').indexOf(' ' + type + ' ') < 0;
      if (!o.disabled && !fit) fit = o;
    });
    if (op.options[op.selectedIndex].disabled && fit) fit.selected = true;
  }
  d.querySelectorAll('.ek-param').forEach(fitOps);

  var scenario = d.querySelector('.ek-scenario-form');
  function showPanel() {
    var on = scenario.querySelector('input[name="trigger_type"]:checked');
    scenario.querySelectorAll('[data-trigger-panel]').forEach(function (panel) {
      panel.hidden = !!on && panel.getAttribute('data-trigger-panel') !== on.value;
    });
  }
  if (scenario) showPanel();

  var builder = d.querySelector('form[data-live-count]');
  var out = d.getElementById('ek-live-count');
  if (!out) builder = null;
  var timer = null, asked = 0;
  function count() {
    var query = new URLSearchParams(), mine = ++asked;
    new FormData(builder).forEach(function (v, k) {
      if (k !== 'csrf' && k !== 'action' && k !== 'name' && typeof v === 'string') query.append(k, v);
    });
    out.textContent = 'counting…';
    fetch(builder.getAttribute('data-live-count') + '?' + query, {
      credentials: 'same-origin', headers: { Accept: 'application/json' }
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (mine !== asked) return;
      out.textContent = typeof body.count === 'number'
        ? body.count + (body.count === 1 ? ' contact' : ' contacts') : String(body.error);
    }).catch(function () {
      if (mine === asked) out.textContent = 'could not count: press Preview';
    });
  }
  function changed(e) {
    var row = e.target.closest && e.target.closest('.ek-param');
    if (row && e.target.hasAttribute('data-param')) fitOps(row);
    if (scenario && e.target.name === 'trigger_type') showPanel();
    if (builder && builder.contains(e.target) && e.target.name !== 'name') {
      clearTimeout(timer);
      timer = setTimeout(count, 400);
    }
  }
  d.addEventListener('change', changed);
  d.addEventListener('input', changed);
  if (builder && !/\d/.test(out.textContent)) count();
})();
