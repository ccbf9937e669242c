/*
 * ekEvents browser tracker, served as /s/{site_key}.js.
 *
 * The collector fills in one JSON config object (the marker on the last line) and
 * minifies this file with a plain comment and whitespace stripper. That stripper does
 * not parse JavaScript, so this source uses no regex literals, no template literals, no
 * comment openers inside strings, and ends every statement with a semicolon.
 *
 * Config: k = site key, e = endpoint URL, r = no-code rules, pv = automatic page views.
 *
 * Delivery: new events wait in `buf` for a short batch window. A flush moves them to the
 * outbox: the in-memory `out` list, mirrored in localStorage (ek_q) so that a failed
 * send, a crash or an unload does not lose them. An event leaves the outbox only when
 * the server has answered for it (2xx, or a 4xx other than 429: a 4xx means it was kept
 * as a failed event and resending cannot help). Every event has a client-made id and the
 * server ignores an id it already has, so sending an event twice is harmless; the design
 * leans on that whenever it has to choose between "maybe twice" and "maybe never".
 */
(function (w, d, cfg) {
  'use strict';

  var nv = w.navigator, loc = w.location, hist = w.history;
  var api = w.ekEvents = w.ekEvents || {};

  var Q_KEY = 'ek_q';       /* localStorage: events not yet confirmed by the server */
  var S_KEY = 'ek_s';       /* localStorage: session token, for browsers that block cookies */
  var Q_MAX = 100;          /* outbox bound; the oldest events are dropped beyond it */
  var BODY_MAX = 60000;     /* bytes of events per request: beacons and keepalive stop at 64 KB */
  var BATCH_MS = 300, BATCH_MAX = 10, BACKOFF_MAX = 60000;
  var IDENTITY = ['email', 'phone', 'contact_id', 'external_id', 'hash'];

  var mem = {};             /* stands in for localStorage where the browser refuses it */
  var buf = [];             /* new events waiting for the batch window */
  var out = [];             /* outbox: handed over for delivery, not yet confirmed */
  var batchTimer = 0, retryTimer = 0, busy = 0, fails = 0;
  var lastPath = '', lastHref = '', tz = '', autoPv = true, rules = [];

  function warn(m) {
    try { console.warn('ekEvents:', m); } catch (e) { /* no console: stay silent */ }
  }

  /* Whatever goes wrong in here must never surface in the host page. */
  function safe(f) {
    return function () {
      try { return f.apply(this, arguments); } catch (e) { warn(e); }
    };
  }

  function isObj(x) {
    return !!x && typeof x === 'object' && !Array.isArray(x);
  }

  /* Storage can be missing, blocked (throws on access) or full (throws on write).
     Once a write fails, this page keeps that key in memory. */
  function get(k) {
    try { return k in mem ? mem[k] : w.localStorage.getItem(k); } catch (e) { return null; }
  }

  function set(k, v) {
    try { w.localStorage.setItem(k, v); } catch (e) { mem[k] = v; }
  }

  function stored() {
    try {
      var q = JSON.parse(get(Q_KEY));
      return Array.isArray(q) ? q.filter((e) => e && e.i) : [];
    } catch (e) {
      return [];
    }
  }

  /* Every tab of the site shares ek_q: re-read it before each change so that one tab
     does not wipe out another tab's unsent events. */
  function keep(evs) {
    set(Q_KEY, JSON.stringify(stored().concat(evs).slice(-Q_MAX)));
  }

  function forget(ids) {
    set(Q_KEY, JSON.stringify(stored().filter((e) => !ids[e.i])));
  }

  /* UTF-8 size, which is what the 64 KB limits count. */
  function bytes(s) {
    return new Blob([s]).size;
  }

  /* Time first, so ids sort roughly by creation; then 64 random bits (Math.random only
     where Web Crypto is missing). Fixed-width parts: two different ids never read alike. */
  function uid() {
    var c = w.crypto, a = new Uint32Array(2);
    a = c && c.getRandomValues ? c.getRandomValues(a) : a.map(() => Math.random() * 4294967296);
    return Date.now().toString(36) + Array.from(a, (x) => x.toString(36).padStart(7, '0')).join('');
  }

  function context() {
    var s = w.screen;
    return {u: loc.href, r: d.referrer, ti: d.title, l: nv.language, sw: s.width, sh: s.height, tz: tz};
  }

  function track(name, o) {
    var u = {};
    IDENTITY.forEach((f) => {
      if (o[f] != null) u[f] = o[f];
    });
    var ev = {i: uid(), n: name, t: Date.now(), p: o.params || {}, u: u, c: context()};
    /* A copy through JSON: later changes to the caller's objects do not leak into the
       event, and a value JSON cannot carry (a cycle, a BigInt) fails here, alone,
       instead of breaking every later batch. */
    buf.push(JSON.parse(JSON.stringify(ev)));
    if (buf.length >= BATCH_MAX) {
      flush();
    } else if (!batchTimer) {
      batchTimer = setTimeout(safe(() => flush()), BATCH_MS);
    }
  }

  /* The public ekEvents.push. Malformed calls are dropped with a warning: page code must
     not break because of us, and a call without a usable name has nothing to record. */
  function push(name, props) {
    props = props == null ? {} : props;
    if (typeof name !== 'string' || !name || !isObj(props) || (props.params != null && !isObj(props.params))) {
      return warn('bad push');
    }
    track(name, props);
  }

  /* The leading events of the outbox that fit in one request (at least one). */
  function chunk() {
    var n = 0, size = 0;
    while (n < out.length) {
      size += bytes(JSON.stringify(out[n])) + 1;
      if (n && size > BODY_MAX) break;
      n++;
    }
    return out.slice(0, n);
  }

  /* The token is read for every request so that one tab picks up another tab's session.
     st (send time) lets the server correct event times for this client's clock skew,
     measured on the very request, even for events retried long after they were made. */
  function body(evs) {
    return JSON.stringify({k: cfg.k, s: get(S_KEY) || null, st: Date.now(), e: evs});
  }

  /* text/plain keeps the request "simple": no CORS preflight. keepalive lets it outlive
     the page, but browsers refuse keepalive bodies over 64 KB, so an oversized one goes
     without it (the server will refuse it with a 4xx and it leaves the outbox). */
  function post(b) {
    return fetch(cfg.e, {
      method: 'POST', body: b, keepalive: bytes(b) < 65000, credentials: 'include',
      headers: {'Content-Type': 'text/plain'}
    });
  }

  /* One request at a time: the first answer carries the session token, and sending the
     next batch before it arrives would start a second session where cookies are blocked. */
  function pump() {
    if (busy || retryTimer || !out.length) return;
    var evs = chunk(), ids = {};
    evs.forEach((e) => { ids[e.i] = 1; });
    var sent = post(body(evs));
    busy = 1;
    sent.then(safe((r) => {
      busy = 0;
      var st = r.status;
      if (!st || st === 429 || st > 499) return retry(r.headers.get('Retry-After'));
      out = out.filter((e) => !ids[e.i]);
      forget(ids);
      fails = 0;
      var next = safe((j) => {
        if (j && j.s) set(S_KEY, j.s);
        pump();
      });
      r.json().then(next, next);
    }), safe(() => {
      busy = 0;
      retry();
    }));
  }

  /* Exponential backoff: 1 s, 2 s, 4 s ... up to 60 s; a 429's Retry-After (seconds) wins.
     New events wait in the outbox meanwhile instead of hammering a failing server. */
  function retry(after) {
    fails++;
    var ms = after > 0 ? Math.min(after * 1000, 3600000) : Math.min(BACKOFF_MAX, 500 * 2 ** fails);
    retryTimer = setTimeout(safe(() => {
      retryTimer = 0;
      pump();
    }), ms);
  }

  /* Move the batch into the outbox (persisted first) and send it. When the page is being
     hidden or unloaded only a beacon is sure to leave; its answer cannot be read, so the
     beaconed events leave this page's outbox but stay in ek_q, and the next page load
     sends them again (the server drops the duplicates by id). */
  function flush(leaving) {
    clearTimeout(batchTimer);
    batchTimer = 0;
    if (buf.length) {
      keep(buf);
      out = out.concat(buf).slice(-Q_MAX);
      buf = [];
    }
    if (!leaving) return pump();
    while (out.length) {
      var evs = chunk(), b = body(evs);
      out = out.slice(evs.length);
      if (!(nv.sendBeacon && nv.sendBeacon(cfg.e, new Blob([b], {type: 'text/plain'})))) {
        post(b).catch(warn);
      }
    }
  }

  /* How a no-code rule reads one param: (spec, element) -> value, null when missing. */
  var READERS = {
    const: (s) => s.value,
    query: (s) => new URLSearchParams(loc.search).get(s.name),
    attr: (s, el) => el.getAttribute(s.name),
    data: (s, el) => el.getAttribute('data-' + s.name),
    text: (s, el) => {
      var x = s.selector ? el.querySelector(s.selector) : el;
      return x && x.textContent.trim();
    },
    field: (s, el) => {
      /* el.form also finds fields tied to a form by their form= attribute; closest()
         includes the element itself, so a form finds itself. */
      var f = el.form || el.closest('form'), x = f ? f.elements[s.name] : el.name === s.name ? el : null;
      return x && (x.type === 'checkbox' ? x.checked : x.value);
    }
  };

  /* Params of a no-code rule, read from the element that matched (the document element
     for page rules). A param that cannot be read is left out; the server decides
     whether the event is still valid. */
  function read(map, el) {
    var res = {}, k, v;
    for (k in map) {
      try {
        v = READERS[map[k].from](map[k], el);
        if (v != null) res[k] = v;
      } catch (e) {
        warn(e);
      }
    }
    return res;
  }

  /* Run every rule whose trigger `pick` accepts (it returns the element to read params
     from); a broken rule (a bad selector or regex) fails alone. */
  function runRules(pick) {
    rules.forEach((r) => {
      try {
        var el = pick(r.tr);
        if (el) track(r.n, {params: read(r.p, el)});
      } catch (e) {
        warn(e);
      }
    });
  }

  function pageRules() {
    var p = loc.pathname;
    runRules((t) => {
      var u = t.url || {}, m = u.match, v = u.value;
      return t.on === 'page' && (m === 'exact' ? p === v : m === 'prefix' ? p.startsWith(v) : m === 'regex' && new RegExp(v).test(p)) && d.documentElement;
    });
  }

  /* One capturing listener on the document per DOM event type: it sees elements added
     later, and page handlers that stop propagation cannot hide events from it. */
  function onDomEvent(ev) {
    var t = ev.target;
    runRules((tr) => tr.on === ev.type && t.closest && t.closest(tr.selector));
  }

  /* A page view and the page rules, on load and whenever an SPA changes path or query
     (a hash change or a replaceState of the same URL is not a new page). */
  function navigated(first) {
    var path = loc.pathname + loc.search;
    if (path === lastPath) return;
    /* After an SPA navigation the page we came from is the previous URL. */
    var ref = lastPath ? lastHref : d.referrer;
    lastPath = path;
    lastHref = loc.href;
    if (autoPv) track('page-view', {params: {title: d.title, url: loc.href, referrer: ref}});
    /* An async script can run while the document is still parsing; rules read the DOM. */
    if (first && d.readyState === 'loading') {
      d.addEventListener('DOMContentLoaded', safe(pageRules));
    } else {
      pageRules();
    }
  }

  function start() {
    var queued = api.q || [], me = d.currentScript || d.querySelector('script[src*="/s/"]');
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* no Intl: '' */ }
    rules = (Array.isArray(cfg.r) ? cfg.r : []).filter((r) => isObj(r) && isObj(r.tr) && r.n);
    /* Automatic page views: on unless the config or the script tag says otherwise. */
    autoPv = cfg.pv !== false && !(me && me.getAttribute('data-auto-pageview') === 'false');
    out = stored().slice(-Q_MAX);
    api.push = safe(push);
    api.flush = safe(() => flush());
    api.q = [];

    if (rules.length) {
      ['click', 'submit', 'change'].forEach((on) => d.addEventListener(on, safe(onDomEvent), true));
    }
    if (autoPv || rules.length) {
      var onNav = safe(() => navigated());
      ['pushState', 'replaceState'].forEach((m) => {
        var orig = hist[m];
        hist[m] = function () {
          /* The page's own call: its errors are its own and pass through untouched. */
          var r = orig.apply(this, arguments);
          onNav();
          return r;
        };
      });
      w.addEventListener('popstate', onNav);
      navigated(1);
    }
    d.addEventListener('visibilitychange', safe(() => {
      if (d.visibilityState === 'hidden') flush(1);
    }));
    w.addEventListener('pagehide', safe(() => flush(1)));

    /* Calls made before the tracker loaded, in their order. */
    for (var i = 0; i < queued.length; i++) api.push.apply(api, queued[i]);
    /* Send at once: what an earlier page left in ek_q plus this page's first events. */
    flush();
  }

  /* A second copy of the script on the page must not double every event. */
  if (!api.flush) {
    if (cfg.e && cfg.k) safe(start)();
    else warn('missing config');
  }
})(window, document, /*@config*/{});
