// breakerbox dashboard: plain JavaScript, no build step, no dependency.
//
// Data flow: GET v1/events is a server-sent event stream read with fetch
// (so that the token goes in a header, never in the URL). It opens with a
// "hello" (every guard), then pushes "rates" every push interval, "state"
// at every transition, "guards" when guards appear or go, "rollup" when a
// 10-second rollup is complete and "audit" for every operation. The
// sparklines start from GET v1/history. The page reconnects by itself.
'use strict';
(() => {
  const TOKEN_KEY = 'breakerbox.token';
  const STATES = ['open', 'forced-open', 'half-open', 'metrics-only', 'disabled', 'closed'];
  // Rank of trouble, for "Problems first": the state, and a guard that
  // rejects calls or is over a threshold (for 30 s after, so that tiles
  // do not jump with every push) ranks between half-open and the manual
  // states that admit calls.
  const SEVERITY = { open: 5, 'forced-open': 4, 'half-open': 3, 'metrics-only': 1, disabled: 1, closed: 0 };
  const HOT = 2.5;
  const HOT_MS = 30000;
  const OPS = {
    open: { title: 'Force open', verb: 'force open', effect: 'Every call is rejected until the guard is released (or for the chosen time, after which it probes as after a trip).' },
    close: { title: 'Force closed', verb: 'force closed', effect: 'Every call is admitted and the breaker never trips, until the guard is released.' },
    reset: { title: 'Reset', verb: 'reset', effect: 'The breaker\'s window and failure counts are cleared; an automatic breaker closes. A manual state is kept.' },
    release: { title: 'Release', verb: 'release', effect: 'A manual state (or a timed open) ends: the breaker returns to automatic operation, closed.' },
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  // ---- state ----
  const guards = new Map(); // name -> guard record
  let pushInterval = 2000;
  let rollupMs = 10000;
  let clockOffset = 0; // server clock - local clock, ms
  let hist = { start: 0, count: 360, loaded: false };
  let pendingRollups = [];
  let who = null; // Identity from v1/whoami
  // The APM's trace URL template from the hello ("{traceId}" stands for
  // the id); empty: trace ids are shown without links.
  let traceUrl = '';
  let orderDirty = true;
  // While the pointer is over the tiles, live data does not move them
  // (a tile must not jump away from the mouse); the user's own changes of
  // filter, sort or view (userOrder) always apply.
  let holdOrder = false;
  let userOrder = false;
  let renderQueued = false;
  let detailName = null;
  let detailRange = '1h';
  let detailData = null;
  const opts = { filter: [], view: 'grid', sort: 'severity', problems: false, states: new Set() };

  // Render timings, read by the end-to-end test (and by anyone curious);
  // each guard record also has stateAt (when its last state event came)
  // and shownAt (when its tile last changed state), from performance.now().
  const stats = { renders: 0, lastRenderMs: 0, maxRenderMs: 0, firstRenderMs: 0, sparkMs: 0, events: 0, bytes: 0, hellos: 0, states: 0, lastStateAt: 0, historyLoads: 0 };
  window.breakerbox = {
    stats,
    guards,
    // measure re-renders every tile and sparkline at once and returns the
    // time it took, in milliseconds.
    measure() {
      for (const g of guards.values()) { g.dirty = true; g.sparkDirty = true; }
      orderDirty = true;
      sparkSize = null;
      const t0 = performance.now();
      renderNow();
      return performance.now() - t0;
    },
  };

  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
  const authHeaders = () => (token() ? { Authorization: 'Bearer ' + token() } : {});
  const serverNow = () => Date.now() + clockOffset;

  // ---- formatting ----
  const fmtRate = (x) => {
    if (!x) return '0';
    if (x >= 1000) return (x / 1000).toFixed(x >= 10000 ? 0 : 1).replace(/\.0$/, '') + 'k';
    if (x >= 10) return x.toFixed(0);
    if (x >= 1) return x.toFixed(1).replace(/\.0$/, '');
    return x.toFixed(2).replace(/\.?0+$/, '');
  };
  const fmtPct = (x) => (x >= 10 || x === 0 ? x.toFixed(0) : x.toFixed(1)) + '%';
  const fmtDur = (ms) => {
    let s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60); s %= 60;
    if (m < 60) return m + 'm' + (s ? String(s).padStart(2, '0') + 's' : '');
    const h = Math.floor(m / 60);
    return h + 'h' + String(m % 60).padStart(2, '0') + 'm';
  };
  // fmtAge is fmtDur without seconds beyond the first minute, so that
  // 200 tiles do not change text every second.
  const fmtAge = (ms) => (ms < 60000 ? fmtDur(ms) : ms < 3600000 ? Math.floor(ms / 60000) + 'm' : fmtDur(Math.floor(ms / 60000) * 60000));
  const fmtGoDur = (d) => d || '';
  const fmtTime = (iso) => {
    const d = new Date(iso);
    if (isNaN(d)) return '';
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
  };
  const stateWord = (s) => s.replace('-', ' ');
  // Who holds a guard in a manual state: its policy's mode, or an operator.
  const manualWord = (l) => (l.manualBy === 'policy' ? 'policy' : 'manual');
  // traceLink is a link to the trace id in the APM (WithTraceLinks), or
  // the id as text when the server gave no URL template. bare leaves out
  // the word "trace" (in a column headed Trace).
  function traceLink(id, bare) {
    if (!traceUrl) { const c = el('code', 'trace-id', id); c.title = 'Trace id (the server has no APM link template)'; return c; }
    const a = el('a', 'trace-link', (bare ? '' : 'trace ') + id.slice(0, 8) + '…');
    a.href = traceUrl.split('{traceId}').join(encodeURIComponent(id));
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.title = 'Open trace ' + id + ' in the APM';
    return a;
  }

  // ---- guard records ----
  function record(name) {
    let g = guards.get(name);
    if (!g) {
      g = {
        name, info: { name, tags: [], thresholds: {} }, live: { name, state: 'closed' },
        since: null, lastReason: '', tile: null, refs: null, dirty: true, sparkDirty: true,
        series: emptySeries(),
      };
      guards.set(name, g);
      orderDirty = true;
    }
    return g;
  }
  function emptySeries() {
    const n = hist.count;
    return { calls: new Uint32Array(n), failed: new Uint32Array(n), slow: new Uint32Array(n), rejected: new Uint32Array(n) };
  }
  const rejectedRate = (l) => (l.rejectedOpen || 0) + (l.rejectedHalfOpen || 0) + (l.rejectedFull || 0) + (l.rejectedLimited || 0);
  const rank = (g) => Math.max(SEVERITY[g.live.state] || 0, g.hotUntil > Date.now() ? HOT : 0);
  const isProblem = (g) => rank(g) > 0;
  // overThreshold: 0 fine, 1 near (>= 70% of a threshold), 2 at or over.
  function overThreshold(g) {
    const th = g.info.thresholds || {}; const l = g.live;
    if ((l.windowCalls || 0) < (th.minCalls || 0)) return 0; // the rates do not apply yet
    let worst = 0;
    for (const [v, t] of [[l.failureRate || 0, th.failureRate], [l.slowCallRate || 0, th.slowCallRate]]) {
      if (!t) continue;
      if (v >= t) worst = 2; else if (v >= 0.7 * t) worst = Math.max(worst, 1);
    }
    return worst;
  }

  // ---- connection ----
  let abortCtl = null;
  let attempt = 0;
  let reconnectTimer = 0;
  let watchdog = 0;

  function setConn(kind, text) {
    const c = $('conn');
    c.dataset.conn = kind;
    c.textContent = text;
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    const delay = Math.min(15000, 1000 * 2 ** attempt) * (0.6 + Math.random() * 0.4);
    attempt = Math.min(attempt + 1, 6);
    const until = Date.now() + delay;
    const tick = () => {
      const left = until - Date.now();
      if (left <= 0) { connect(); return; }
      setConn('reconnecting', 'Disconnected; reconnecting in ' + Math.ceil(left / 1000) + 's');
      reconnectTimer = setTimeout(tick, Math.min(1000, left));
    };
    tick();
  }

  function armWatchdog() {
    clearTimeout(watchdog);
    // Rates come every push interval: silence means a dead connection.
    watchdog = setTimeout(() => { if (abortCtl) abortCtl.abort(); }, Math.max(3 * pushInterval, 15000));
  }

  async function problemDetail(res) {
    try { const p = await res.json(); return p.detail || p.title || res.statusText; } catch { return res.statusText; }
  }

  async function connect() {
    clearTimeout(reconnectTimer);
    if (abortCtl) abortCtl.abort();
    const ctl = new AbortController();
    abortCtl = ctl;
    setConn('connecting', 'Connecting…');
    try {
      const res = await fetch('v1/events', { headers: authHeaders(), signal: ctl.signal, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) {
        setConn('auth', 'Sign-in needed');
        askToken(await problemDetail(res));
        return;
      }
      if (!res.ok || !res.body) throw new Error(await problemDetail(res));
      armWatchdog();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stats.bytes += value.length;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          handleBlock(block);
        }
      }
    } catch (e) {
      if (ctl.signal.aborted && abortCtl !== ctl) return; // replaced by a newer connection
    }
    clearTimeout(watchdog);
    if (abortCtl === ctl) scheduleReconnect();
  }

  function handleBlock(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (!data.length) return;
    let msg;
    try { msg = JSON.parse(data.join('\n')); } catch { return; }
    stats.events++;
    armWatchdog();
    switch (event) {
      case 'hello': onHello(msg); break;
      case 'rates': onRates(msg); break;
      case 'state': onState(msg); break;
      case 'guards': onGuards(msg); break;
      case 'rollup': onRollup(msg); break;
      case 'audit': onAudit(msg); break;
    }
  }

  // ---- events ----
  function parseGoDuration(s) {
    if (!s) return 0;
    let ms = 0;
    const re = /([\d.]+)(ns|us|µs|ms|s|m|h)/g;
    const unit = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    let m;
    while ((m = re.exec(s))) ms += parseFloat(m[1]) * unit[m[2]];
    return ms;
  }

  function onHello(h) {
    stats.hellos++;
    const t0 = performance.now();
    attempt = 0;
    clockOffset = Date.parse(h.now) - Date.now();
    pushInterval = parseGoDuration(h.pushInterval) || 2000;
    rollupMs = parseGoDuration(h.rollup) || 10000;
    traceUrl = /^https?:\/\//.test(h.traceUrl || '') ? h.traceUrl : '';
    setConn('live', 'Live');
    const seen = new Set();
    for (const info of h.guards) { const g = record(info.name); g.info = info; g.dirty = true; seen.add(info.name); }
    for (const l of h.live) { const g = record(l.name); applyLive(g, l); }
    for (const name of [...guards.keys()]) if (!seen.has(name)) removeGuard(name);
    for (const info of h.guards) {
      const g = guards.get(info.name);
      if (g.since === null && g.live.since) g.since = g.live.since;
    }
    orderDirty = true;
    renderNow();
    if (!stats.firstRenderMs) stats.firstRenderMs = performance.now() - t0;
    hist.loaded = false;
    loadHistory();
    if (detailName) refreshDetail();
  }

  function applyLive(g, l) {
    const prev = g.live.state;
    if (l.since) g.since = l.since;
    g.live = l;
    if (l.rejectedTrace) g.rejectTrace = { id: l.rejectedTrace, at: serverNow() };
    if (rejectedRate(l) > 0 || (l.queued || 0) > 0 || overThreshold(g) === 2) g.hotUntil = Date.now() + HOT_MS;
    if (prev !== l.state) orderDirty = true;
    g.dirty = true;
  }

  function onRates(ev) {
    clockOffset = Date.parse(ev.now) - Date.now();
    for (const l of ev.guards) {
      const g = guards.get(l.name);
      if (!g) continue;
      applyLive(g, l);
    }
    if (opts.sort !== 'name' || opts.problems) orderDirty = true;
    requestRender();
  }

  const announcements = [];
  let announceTimer = 0;
  function announce(text) {
    announcements.push(text);
    if (announceTimer) return;
    announceTimer = setTimeout(() => {
      const a = announcements.splice(0);
      $('announce').textContent = a.length > 3 ? a.length + ' guards changed state; ' + a.slice(-3).join('; ') : a.join('; ');
      announceTimer = 0;
    }, 1000);
  }

  function onState(ev) {
    stats.states++;
    stats.lastStateAt = performance.now();
    const g = guards.get(ev.guard);
    if (!g) return;
    g.stateAt = stats.lastStateAt;
    const prev = g.live.state;
    g.live = Object.assign({}, g.live, { state: ev.state, manual: !!ev.manual, manualBy: ev.manualBy || '', openUntil: ev.openUntil || undefined });
    g.since = ev.transition.at;
    g.lastReason = ev.transition.reason || '';
    g.lastActor = ev.transition.actor || '';
    g.lastTrace = ev.transition.traceId || '';
    g.dirty = true;
    if (prev !== ev.state) orderDirty = true;
    // The tile changes at once; the order and the counts follow at the
    // next frame.
    if (g.tile && g.tile.isConnected) updateTile(g);
    if (ev.transition.from !== ev.transition.to) announce(ev.guard + ' ' + stateWord(ev.transition.to));
    if (detailName === ev.guard && detailData) {
      detailData.transitions = [ev.transition, ...(detailData.transitions || [])].slice(0, 32);
      renderDetailTables();
    }
    requestRender();
  }

  function onGuards(ev) {
    for (const info of ev.added || []) { const g = record(info.name); g.info = info; g.dirty = true; }
    for (const name of ev.removed || []) removeGuard(name);
    orderDirty = true;
    requestRender();
  }

  function removeGuard(name) {
    const g = guards.get(name);
    if (!g) return;
    if (g.tile) g.tile.remove();
    guards.delete(name);
    orderDirty = true;
  }

  function onRollup(ev) {
    if (!hist.loaded) { pendingRollups.push(ev); return; }
    applyRollup(ev);
    if (detailName && detailRange === '1h') refreshDetail();
    requestRender();
  }

  function applyRollup(ev) {
    const t = Date.parse(ev.start);
    let idx = Math.round((t - hist.start) / rollupMs);
    if (idx < 0) return; // already in the history
    if (idx >= hist.count) {
      const shift = idx - hist.count + 1;
      hist.start += shift * rollupMs;
      idx = hist.count - 1;
      for (const g of guards.values()) {
        for (const k of ['calls', 'failed', 'slow', 'rejected']) {
          const a = g.series[k];
          if (shift >= a.length) a.fill(0); else { a.copyWithin(0, shift); a.fill(0, a.length - shift); }
        }
        g.sparkDirty = true;
      }
    }
    for (const p of ev.guards) {
      const g = guards.get(p.name);
      if (!g) continue;
      g.series.calls[idx] = p.calls || 0;
      g.series.failed[idx] = p.failed || 0;
      g.series.slow[idx] = p.slow || 0;
      g.series.rejected[idx] = p.rejected || 0;
      g.sparkDirty = true;
    }
  }

  // Operations made elsewhere (another operator, breakerctl) are shown as
  // they happen; the tab's own are reported when they return.
  const ownOps = new Set();
  let opInFlight = false;
  function onAudit(rec) {
    if (!ownOps.has(rec.seq) && !(opInFlight && who && rec.actor === who.actor)) {
      const what = rec.target && rec.target.name ? rec.target.name : rec.target && rec.target.tag ? 'tag ' + rec.target.tag : rec.target && rec.target.all ? 'every guard' : (rec.before || []).length + ' guards';
      toast(rec.actor + ': ' + rec.op + ' ' + what + (rec.reason ? ' — ' + rec.reason : ''));
    }
    if (detailName && detailData && (rec.before || []).some((b) => b.guard === detailName)) {
      detailData.operations = [rec, ...(detailData.operations || [])].slice(0, 32);
      renderDetailTables();
    }
  }

  async function loadHistory() {
    try {
      const res = await fetch('v1/history', { headers: authHeaders(), cache: 'no-store' });
      if (!res.ok) return;
      const h = await res.json();
      rollupMs = parseGoDuration(h.step) || rollupMs;
      hist = { start: h.count ? Date.parse(h.start) : Math.floor(serverNow() / rollupMs) * rollupMs - 360 * rollupMs, count: h.count || 360, loaded: true };
      const byName = new Map(h.guards.map((x) => [x.name, x]));
      for (const g of guards.values()) {
        g.series = emptySeries();
        const x = byName.get(g.name);
        if (x) for (const k of ['calls', 'failed', 'slow', 'rejected']) if (x[k]) g.series[k].set(x[k].slice(0, hist.count));
        g.sparkDirty = true;
      }
      for (const ev of pendingRollups.splice(0)) applyRollup(ev);
      stats.historyLoads++;
      requestRender();
    } catch { /* the next hello tries again */ }
  }

  // ---- rendering ----
  function requestRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(renderNow);
  }

  function renderNow() {
    renderQueued = false;
    const t0 = performance.now();
    const list = visibleGuards();
    if (opts.view === 'grid') renderGrid(list); else renderGroups(list);
    renderSummary();
    $('empty').hidden = list.length > 0 || guards.size === 0;
    $('shown').textContent = 'Showing ' + list.length + ' of ' + guards.size + ' guards';
    if (detailName) renderDetailNow();
    const ms = performance.now() - t0;
    stats.renders++;
    stats.lastRenderMs = ms;
    stats.maxRenderMs = Math.max(stats.maxRenderMs, ms);
  }

  function matches(g) {
    if (opts.problems && !isProblem(g)) return false;
    if (opts.states.size && !opts.states.has(g.live.state)) return false;
    for (const term of opts.filter) {
      const [k, v] = term.includes(':') ? [term.slice(0, term.indexOf(':')), term.slice(term.indexOf(':') + 1)] : ['', term];
      if (k === 'tag') { if (!g.info.tags.some((t) => t.toLowerCase().includes(v))) return false; }
      else if (k === 'state') { if (!g.live.state.startsWith(v)) return false; }
      else if (k === 'policy') { if (!(g.info.policy || '').toLowerCase().includes(v)) return false; }
      else if (!g.name.toLowerCase().includes(term)) return false;
    }
    return true;
  }

  let order = [];
  function visibleGuards() {
    if (!orderDirty) return order;
    const list = [...guards.values()].filter(matches);
    const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const sorts = {
      name: byName,
      // By state only, so that tiles do not move with every push.
      severity: (a, b) => (rank(b) - rank(a)) || byName(a, b),
      calls: (a, b) => (b.live.calls || 0) - (a.live.calls || 0) || byName(a, b),
      rejected: (a, b) => rejectedRate(b.live) - rejectedRate(a.live) || byName(a, b),
    };
    list.sort(sorts[opts.sort] || byName);
    order = list;
    orderDirty = false;
    return list;
  }

  let gridOrder = [];
  function renderGrid(list) {
    const grid = $('grid');
    grid.hidden = false;
    $('groups').hidden = true;
    for (const g of list) {
      if (!g.tile) makeTile(g);
      if (g.dirty) updateTile(g);
    }
    const same = list.length === gridOrder.length && list.every((g, i) => gridOrder[i] === g.tile);
    const held = holdOrder && !userOrder && list.length === gridOrder.length && list.every((g) => g.tile.parentNode === grid);
    userOrder = false;
    if (!same && !held) {
      // Move as few tiles as possible, and keep the focus where it was.
      const active = document.activeElement;
      let ref = grid.firstChild;
      for (const g of list) {
        if (g.tile === ref) ref = ref.nextSibling;
        else grid.insertBefore(g.tile, ref);
      }
      while (ref) { const next = ref.nextSibling; ref.remove(); ref = next; }
      gridOrder = list.map((g) => g.tile);
      if (active && active !== document.activeElement && grid.contains(active)) active.focus({ preventScroll: true });
    }
    for (const g of list) if (g.sparkDirty) drawSpark(g);
  }

  function makeTile(g) {
    const t = el('article', 'tile');
    t.setAttribute('role', 'listitem');
    t.dataset.guard = g.name;
    const h = el('h2');
    const name = el('button', 'name', g.name);
    name.type = 'button';
    name.setAttribute('aria-haspopup', 'dialog');
    name.addEventListener('click', () => openDetail(g.name));
    h.append(name);
    const line = el('div', 'line');
    const badge = el('span', 'badge');
    const rate = el('span', 'rate'); // shown in the compact density only
    const countdown = el('span', 'countdown');
    const crit = el('span', 'crit', 'critical');
    crit.title = 'Readiness fails while this guard is open';
    const tags = el('span', 'tags');
    line.append(badge, rate, countdown, crit, tags);
    const dl = el('dl', 'metrics');
    const pair = (label, wide) => {
      const dt = el('dt', '', label);
      const dd = el('dd', wide ? 'wide' : '');
      dl.append(dt, dd);
      return { dt, dd };
    };
    const calls = pair('calls');
    const rej = pair('rejected');
    const fail = pair('failures', true);
    const slow = pair('slow', true);
    const bulk = pair('bulkhead', true);
    const rl = pair('rate limit', true);
    const spark = el('canvas', 'spark');
    spark.setAttribute('role', 'img');
    t.append(h, line, dl, spark);
    g.tile = t;
    g.refs = { name, crit, badge, rate, countdown, calls, fail, slow, rej, bulk, rl, spark, tags, tagsKey: null };
    g.dirty = true;
    g.sparkDirty = true;
  }

  // setMeter shows a small bar (value and threshold in percent; a null
  // threshold draws none) before text. level: '', 'near' or 'over'.
  function setMeter(dd, value, threshold, level, text) {
    let m = dd._meter;
    if (!m) {
      const bar = el('span', 'meter');
      bar.setAttribute('aria-hidden', 'true');
      const fill = el('i');
      const mark = el('b');
      bar.append(fill, mark);
      const txt = document.createTextNode('');
      dd.replaceChildren(bar, txt);
      m = dd._meter = { bar, fill, mark, txt, w: -1, t: -1, level: null };
    }
    const w = Math.max(0, Math.min(100, Math.round(value)));
    if (m.w !== w) { m.w = w; m.fill.style.width = w + '%'; }
    const t = threshold === null ? -1 : Math.min(100, threshold);
    if (m.t !== t) { m.t = t; m.mark.hidden = t < 0; if (t >= 0) m.mark.style.left = 'calc(' + t + '% - 1px)'; }
    if (m.level !== level) { m.level = level; m.bar.className = 'meter' + (level ? ' ' + level : ''); }
    if (m.txt.data !== text) m.txt.data = text;
  }
  const levelOf = (v, t) => (v >= t ? 'over' : v >= 0.7 * t ? 'near' : '');
  function plain(dd, text) {
    if (dd._meter) { dd._meter = null; dd.replaceChildren(); }
    setText(dd, text);
  }

  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }

  function updateTile(g) {
    g.dirty = false;
    const r = g.refs; const l = g.live; const info = g.info; const th = info.thresholds || {};
    const t = g.tile;
    if (t.dataset.state !== l.state) { t.dataset.state = l.state; g.shownAt = performance.now(); }
    r.badge.dataset.state = l.state;
    setText(r.badge, stateWord(l.state));
    r.crit.hidden = !info.critical;
    updateCountdown(g);
    setText(r.calls.dd, fmtRate(l.calls) + '/s');
    const rj = rejectedRate(l);
    const parts = [];
    if (l.rejectedOpen) parts.push(['open', l.rejectedOpen]);
    if (l.rejectedHalfOpen) parts.push(['probe', l.rejectedHalfOpen]);
    if (l.rejectedFull) parts.push(['full', l.rejectedFull]);
    if (l.rejectedLimited) parts.push(['limit', l.rejectedLimited]);
    parts.sort((a, b) => b[1] - a[1]);
    setText(r.rej.dd, fmtRate(rj) + '/s' + (parts.length ? ' ' + parts.map((p) => p[0]).join('+') : ''));
    r.rej.dd.classList.toggle('hot', rj > 0);
    setText(r.rate, fmtRate(l.calls) + '/s' + (rj ? ' · ' + fmtRate(rj) + ' rej/s' : ''));
    r.rate.classList.toggle('hot', rj > 0);
    r.rej.dd.title = parts.length ? 'Rejections per second by reason: ' + parts.map((p) => p[0] + ' ' + fmtRate(p[1])).join(', ') : 'No rejections';
    const fr = l.failureRate || 0;
    const wc = l.windowCalls || 0;
    const failText = fmtPct(fr) + (th.failureRate ? ' / ' + fmtPct(th.failureRate) : '') + ' of ' + wc;
    if (th.failureRate) setMeter(r.fail.dd, fr, th.failureRate, wc >= (th.minCalls || 0) ? levelOf(fr, th.failureRate) : '', failText);
    else plain(r.fail.dd, failText + (th.consecutiveFailures ? ' · ' + (l.consecutiveFailures || 0) + '/' + th.consecutiveFailures + ' in a row' : ''));
    r.fail.dd.title = 'Failure rate of the last ' + wc + ' calls' + (th.failureRate ? '; the breaker trips at ' + fmtPct(th.failureRate) + ' from ' + th.minCalls + ' calls' : '');
    const hasSlow = !!th.slowCallRate;
    r.slow.dt.hidden = r.slow.dd.hidden = !hasSlow;
    if (hasSlow) {
      const sr = l.slowCallRate || 0;
      setMeter(r.slow.dd, sr, th.slowCallRate, levelOf(sr, th.slowCallRate), fmtPct(sr) + ' / ' + fmtPct(th.slowCallRate) + ' ≥' + fmtGoDur(th.slowCall));
      r.slow.dd.title = 'Share of calls taking ' + th.slowCall + ' or more; the breaker trips at ' + fmtPct(th.slowCallRate);
    }
    const b = info.bulkhead;
    r.bulk.dt.hidden = r.bulk.dd.hidden = !b;
    if (b) {
      const inUse = l.inUse || 0;
      const limit = l.limit || b.maxConcurrent; // an adaptive limit moves: the live figure has it
      const use = 100 * inUse / limit;
      setMeter(r.bulk.dd, use, null, (l.queued || 0) > 0 || use >= 100 ? 'over' : use >= 70 ? 'near' : '', inUse + '/' + limit + (b.adaptive ? ' ~' : '') + (b.maxQueue ? ' +' + (l.queued || 0) + ' queued' : ''));
      r.bulk.dd.title = inUse + ' of ' + limit + ' slots in use' + (b.adaptive ? ' (adaptive limit, ' + b.adaptive + ')' : '') + (b.maxQueue ? ', ' + (l.queued || 0) + ' of ' + b.maxQueue + ' queued' : '');
    }
    const rl = info.rateLimit;
    r.rl.dt.hidden = r.rl.dd.hidden = !rl;
    if (rl) {
      const avail = l.available === undefined ? 0 : l.available;
      const burst = rl.burst || Math.max(1, Math.ceil(rl.limit));
      const head = Math.max(0, Math.min(100, 100 * avail / burst));
      setMeter(r.rl.dd, head, null, head <= 0 ? 'over' : head < 30 ? 'near' : '', fmtRate(Math.max(avail, 0)) + '/' + burst + ' left');
      r.rl.dd.title = 'Headroom: the limit (' + rl.limit + ' per ' + rl.per + ') would admit ' + fmtRate(Math.max(avail, 0)) + ' calls at once now, of a burst of ' + burst;
    }
    const tagsKey = info.tags.join(', ');
    if (r.tagsKey !== tagsKey) {
      r.tagsKey = tagsKey;
      setText(r.tags, tagsKey);
      r.tags.title = tagsKey ? 'Tags: ' + tagsKey : '';
      r.name.title = g.name + (tagsKey ? ' (' + tagsKey + ')' : '') + (info.policy ? ', policy ' + info.policy : '');
    }
  }

  function countdownText(l) {
    if (l.state === 'open' && l.openUntil) {
      const left = Date.parse(l.openUntil) - serverNow();
      return (l.manual ? manualWord(l) + ' · ' : '') + (left > 0 ? 'probes in ' + fmtDur(left) : 'probing soon');
    }
    if (l.state === 'forced-open') return l.manualBy === 'policy' ? 'policy mode' : 'manual · until released';
    return '';
  }
  function updateCountdown(g) {
    const r = g.refs;
    const text = countdownText(g.live) || ((g.live.manual ? manualWord(g.live) + ' · ' : '') + (g.since ? 'for ' + fmtAge(serverNow() - Date.parse(g.since)) : ''));
    setText(r.countdown, text);
  }

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  let colors = null;
  function palette() {
    if (!colors) colors = { calls: cssVar('--calls'), failed: cssVar('--failed'), slow: cssVar('--slow'), rejected: cssVar('--rejected'), open: cssVar('--open'), half: cssVar('--half-open'), forced: cssVar('--forced-open'), line: cssVar('--line'), muted: cssVar('--muted'), fg: cssVar('--fg') };
    return colors;
  }
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    colors = null;
    for (const g of guards.values()) g.sparkDirty = true;
    requestRender();
  });

  function sizeCanvas(c, cw, ch) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round((cw === undefined ? c.clientWidth : cw) * dpr));
    const h = Math.max(1, Math.round((ch === undefined ? c.clientHeight : ch) * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    return [w, h, dpr];
  }
  // Every sparkline has the size of the first: reading it once per render
  // avoids a layout per tile.
  let sparkSize = null;

  function drawSpark(g) {
    if (!g.tile || !g.tile.isConnected) return;
    const t0 = performance.now();
    g.sparkDirty = false;
    const c = g.refs.spark;
    if (!sparkSize) sparkSize = [c.clientWidth, c.clientHeight];
    const [w, h] = sizeCanvas(c, sparkSize[0], sparkSize[1]);
    const ctx = c.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    const s = g.series;
    const n = s.calls.length;
    let peak = 0; let fails = 0; let rejs = 0; let calls = 0;
    for (let i = 0; i < n; i++) {
      peak = Math.max(peak, s.calls[i] + s.rejected[i]);
      fails += s.failed[i]; rejs += s.rejected[i]; calls += s.calls[i];
    }
    const p = palette();
    ctx.fillStyle = p.line;
    ctx.fillRect(0, h - 1, w, 1);
    if (peak > 0) {
      const bw = w / n;
      const y = (v) => h - 1 - Math.round((h - 2) * v / peak);
      const area = (arr, base, color) => {
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.moveTo(0, h - 1);
        for (let i = 0; i < n; i++) ctx.lineTo(i * bw, y(arr[i] + (base ? base[i] : 0)));
        ctx.lineTo(w, y(arr[n - 1] + (base ? base[n - 1] : 0)));
        ctx.lineTo(w, h - 1);
        ctx.closePath();
        ctx.fill();
      };
      ctx.globalAlpha = 0.45;
      area(s.calls, null, p.calls);
      ctx.globalAlpha = 0.9;
      area(s.failed, null, p.failed);
      ctx.globalAlpha = 1;
      if (rejs) {
        ctx.strokeStyle = p.rejected;
        ctx.lineWidth = Math.max(1, (window.devicePixelRatio || 1));
        ctx.beginPath();
        for (let i = 0; i < n; i++) { const yy = y(s.rejected[i]); if (i) ctx.lineTo(i * bw, yy); else ctx.moveTo(0, yy); }
        ctx.stroke();
      }
    }
    const per = rollupMs / 1000;
    c.setAttribute('aria-label', 'Last hour: ' + calls + ' calls (peak ' + peak + ' per ' + per + 's), ' + fails + ' failed, ' + rejs + ' rejected');
    stats.sparkMs += performance.now() - t0;
  }

  // Group view: one section per tag (or policy) with a chip per guard.
  const groupEls = new Map();
  // sameMembers reports whether box holds exactly the nodes of items, in
  // any order.
  const sameMembers = (box, items) => items.length === box.children.length && items.every((n) => n.parentNode === box);

  function renderGroups(list) {
    const held = holdOrder && !userOrder;
    userOrder = false;
    $('grid').hidden = true;
    gridOrder = [];
    const box = $('groups');
    box.hidden = false;
    const groups = new Map();
    for (const g of list) {
      const keys = opts.view === 'tag' ? (g.info.tags.length ? g.info.tags : ['(no tag)']) : [g.info.policy || '(none)'];
      for (const k of keys) { if (!groups.has(k)) groups.set(k, []); groups.get(k).push(g); }
    }
    const keys = [...groups.keys()].sort((a, b) => {
      const sa = Math.max(...groups.get(a).map(rank));
      const sb = Math.max(...groups.get(b).map(rank));
      return opts.sort === 'name' ? a.localeCompare(b) : (sb - sa) || a.localeCompare(b);
    });
    const sections = [];
    for (const k of keys) {
      const id = opts.view + '\u0000' + k;
      let ge = groupEls.get(id);
      if (!ge) {
        const sec = el('section', 'group');
        const head = el('div', 'group-head');
        const h = el('h2', '', (opts.view === 'tag' ? 'tag ' : 'policy ') + k);
        const st = el('span', 'stats');
        const actions = el('div', 'gactions');
        head.append(h, st, actions);
        const chips = el('ul', 'chips');
        chips.setAttribute('aria-label', 'Guards in ' + k);
        sec.append(head, chips);
        sec.setAttribute('aria-label', (opts.view === 'tag' ? 'Tag ' : 'Policy ') + k);
        ge = { sec, st, actions, chips, chipEls: new Map(), actionsFor: null };
        groupEls.set(id, ge);
      }
      const members = groups.get(k);
      const counts = {};
      let calls = 0; let rej = 0;
      for (const g of members) { counts[g.live.state] = (counts[g.live.state] || 0) + 1; calls += g.live.calls || 0; rej += rejectedRate(g.live); }
      setText(ge.st, STATES.filter((s) => counts[s]).map((s) => counts[s] + ' ' + stateWord(s)).join(' · ') + ' — ' + fmtRate(calls) + ' calls/s' + (rej ? ', ' + fmtRate(rej) + ' rejected/s' : ''));
      const canGroupOp = opts.view === 'tag' && k !== '(no tag)' && canWrite();
      if (ge.actionsFor !== canGroupOp) {
        ge.actionsFor = canGroupOp;
        ge.actions.replaceChildren();
        if (canGroupOp) {
          for (const op of ['open', 'release']) {
            const b = el('button', 'small' + (op === 'open' ? ' danger' : ''), OPS[op].title + ' group…');
            b.type = 'button';
            b.dataset.op = op;
            b.dataset.tag = k;
            b.addEventListener('click', () => openOp(op, { tag: k }));
            ge.actions.append(b);
          }
        }
      }
      const items = [];
      for (const g of members) {
        let chip = ge.chipEls.get(g.name);
        if (!chip) {
          const li = el('li');
          const b = el('button', 'chip');
          b.type = 'button';
          b.dataset.guard = g.name;
          b.setAttribute('aria-haspopup', 'dialog');
          b.addEventListener('click', () => openDetail(g.name));
          const nm = el('span', '', g.name);
          const st = el('span', 'st');
          b.append(nm, st);
          li.append(b);
          chip = { li, b, st };
          ge.chipEls.set(g.name, chip);
        }
        if (chip.b.dataset.state !== g.live.state) chip.b.dataset.state = g.live.state;
        setText(chip.st, stateWord(g.live.state));
        chip.b.title = g.name + ': ' + stateWord(g.live.state) + ', ' + fmtRate(g.live.calls) + ' calls/s';
        items.push(chip.li);
      }
      const moved = items.some((li, i) => ge.chips.children[i] !== li);
      if (moved && !(held && sameMembers(ge.chips, items))) ge.chips.replaceChildren(...items);
      sections.push(ge.sec);
    }
    const moved = sections.length !== box.children.length || sections.some((s, i) => box.children[i] !== s);
    if (moved && !(held && sameMembers(box, sections))) box.replaceChildren(...sections);
  }

  function renderSummary() {
    const counts = {};
    for (const g of guards.values()) counts[g.live.state] = (counts[g.live.state] || 0) + 1;
    const ul = $('summary');
    if (!ul.childElementCount) {
      for (const s of STATES) {
        const li = el('li');
        const b = el('button');
        b.type = 'button';
        b.dataset.state = s;
        b.setAttribute('aria-pressed', 'false');
        const n = el('span', 'n', '0');
        const badge = el('span', 'badge', stateWord(s));
        badge.dataset.state = s;
        b.append(n, badge);
        b.addEventListener('click', () => {
          if (opts.states.has(s)) opts.states.delete(s); else opts.states.add(s);
          b.setAttribute('aria-pressed', String(opts.states.has(s)));
          orderDirty = userOrder = true;
          requestRender();
        });
        li.append(b);
        ul.append(li);
      }
    }
    for (const b of ul.querySelectorAll('button')) {
      const n = counts[b.dataset.state] || 0;
      setText(b.firstChild, String(n));
      b.title = 'Show only ' + stateWord(b.dataset.state) + ' guards (' + n + ')';
      b.parentElement.hidden = n === 0 && !opts.states.has(b.dataset.state) && b.dataset.state !== 'open' && b.dataset.state !== 'closed';
    }
  }

  // ---- detail view ----
  function openDetail(name) {
    detailName = name;
    detailData = null;
    const d = $('detail');
    $('detail-transitions').replaceChildren();
    $('detail-ops').replaceChildren();
    renderDetailNow();
    if (!d.open) d.showModal();
    refreshDetail();
  }

  async function refreshDetail() {
    const name = detailName;
    if (!name) return;
    try {
      const res = await fetch('v1/history?guard=' + encodeURIComponent(name) + '&range=' + detailRange, { headers: authHeaders(), cache: 'no-store' });
      if (name !== detailName) return;
      if (!res.ok) {
        if (res.status === 404) { $('detail-reason').textContent = 'This guard no longer exists (it was pruned).'; }
        return;
      }
      const h = await res.json();
      if (name !== detailName) return;
      const gh = h.guards[0] || {};
      detailData = { step: parseGoDuration(h.step), start: h.count ? Date.parse(h.start) : 0, count: h.count || 0, g: gh, transitions: gh.transitions || [], operations: gh.operations || [] };
      drawChart();
      renderDetailTables();
    } catch { /* shown as no history */ }
  }

  function renderDetailNow() {
    const g = guards.get(detailName);
    if (!g) return;
    const l = g.live; const info = g.info; const th = info.thresholds || {};
    $('detail-title').textContent = g.name;
    const badge = $('detail-state');
    badge.dataset.state = l.state;
    setText(badge, stateWord(l.state) + (l.manual ? ' (' + manualWord(l) + ')' : ''));
    setText($('detail-countdown'), countdownText(l));
    const sub = ['policy ' + (info.policy || '?')];
    if (info.tags.length) sub.push('tags ' + info.tags.join(', '));
    if (info.critical) sub.push('critical (readiness fails while open)');
    setText($('detail-sub'), sub.join(' · '));
    const since = g.since ? stateWord(l.state) + ' since ' + fmtTime(g.since) + ' (' + fmtDur(serverNow() - Date.parse(g.since)) + ')' : '';
    const last = (detailData && detailData.transitions[0]) || null;
    const why = g.lastReason || (last ? last.reason : '');
    const actor = g.lastActor || (last ? last.actor : '');
    setText($('detail-reason'), since + (why ? ': ' + why : '') + (actor ? ' — by ' + actor : ''));
    renderTraces(g, last);
    const rows = [
      ['Calls', fmtRate(l.calls) + '/s'],
      ['Failures', fmtRate(l.failed) + '/s'],
      ['Failure rate', fmtPct(l.failureRate || 0) + ' of ' + (l.windowCalls || 0) + ' calls' + (th.failureRate ? '; trips at ' + fmtPct(th.failureRate) + ' from ' + th.minCalls + ' calls' : '; rule off')],
      ['Slow-call rate', th.slowCallRate ? fmtPct(l.slowCallRate || 0) + '; trips at ' + fmtPct(th.slowCallRate) + ' (slow ≥ ' + th.slowCall + ')' : 'not tracked'],
      ['Consecutive failures', String(l.consecutiveFailures || 0) + (th.consecutiveFailures ? ' of ' + th.consecutiveFailures : '')],
      ['Window', th.windowSize ? 'last ' + th.windowSize + ' calls' : th.windowDuration ? 'last ' + th.windowDuration : '?'],
      ['Rejected', 'open ' + fmtRate(l.rejectedOpen) + '/s, probe ' + fmtRate(l.rejectedHalfOpen) + '/s, full ' + fmtRate(l.rejectedFull) + '/s, limited ' + fmtRate(l.rejectedLimited) + '/s'],
    ];
    if (info.bulkhead) rows.push(['Bulkhead', (l.inUse || 0) + ' of ' + (l.limit || info.bulkhead.maxConcurrent) + ' in use' + (info.bulkhead.adaptive ? ' (adaptive limit, ' + info.bulkhead.adaptive + ')' : '') + (info.bulkhead.maxQueue ? ', ' + (l.queued || 0) + ' of ' + info.bulkhead.maxQueue + ' queued' : '')]);
    if (l.hedges) rows.push(['Hedges', fmtRate(l.hedges) + '/s started']);
    if (l.stale) rows.push(['Stale answers', fmtRate(l.stale) + '/s from the cache']);
    if (info.rateLimit) rows.push(['Rate limit', fmtRate(Math.max(0, l.available || 0)) + ' of ' + (info.rateLimit.burst || '?') + ' available; ' + info.rateLimit.limit + ' per ' + info.rateLimit.per + ' (' + info.rateLimit.algorithm.replace('_', ' ') + ')']);
    const dl = $('detail-now');
    if (dl.childElementCount !== rows.length) {
      dl.replaceChildren(...rows.map(() => { const d = el('div'); d.append(el('dt'), el('dd')); return d; }));
    }
    rows.forEach(([k, v], i) => { const d = dl.children[i]; setText(d.firstChild, k); setText(d.lastChild, v); });
    renderControls(l);
  }

  // renderTraces shows the traces of the call behind the last state change
  // and of a recently rejected call, when the server sends trace ids.
  function renderTraces(g, last) {
    const box = $('detail-traces');
    const change = g.stateAt ? g.lastTrace : (last && last.traceId) || '';
    const rej = g.rejectTrace;
    const key = change + '|' + (rej ? rej.id : '') + '|' + traceUrl;
    if (box.dataset.key === key) {
      if (rej && box.lastChild && box.lastChild.className === 'ago') setText(box.lastChild, ' (' + fmtAge(serverNow() - rej.at) + ' ago)');
      return;
    }
    box.dataset.key = key;
    const parts = [];
    if (change) parts.push(document.createTextNode('Call that caused the last change: '), traceLink(change));
    if (rej) {
      if (parts.length) parts.push(document.createTextNode(' · '));
      parts.push(document.createTextNode('a rejected call: '), traceLink(rej.id), el('span', 'ago', ' (' + fmtAge(serverNow() - rej.at) + ' ago)'));
    }
    box.replaceChildren(...parts);
    box.hidden = !parts.length;
  }

  // The controls exist only for a write token: without one they are not
  // in the page at all.
  function renderControls(l) {
    const box = $('detail-controls');
    const want = canWrite();
    if (!want) { if (box.childElementCount) box.replaceChildren(); box.hidden = true; return; }
    box.hidden = false;
    if (!box.childElementCount) {
      const h = el('h3', '', 'Control');
      const bs = el('div', 'buttons');
      for (const op of ['open', 'close', 'reset', 'release']) {
        const b = el('button', op === 'open' ? 'danger' : '', OPS[op].title + '…');
        b.type = 'button';
        b.dataset.op = op;
        b.addEventListener('click', () => openOp(op, { name: detailName }));
        bs.append(b);
      }
      box.append(h, bs);
    }
    const rel = box.querySelector('button[data-op=release]');
    rel.disabled = !l.manual;
    rel.title = !l.manual ? 'Nothing to release: the breaker is automatic'
      : l.manualBy === 'policy' ? 'The guard\'s policy sets this mode; releasing it returns the breaker to automatic operation until the guard is created again' : '';
  }

  function renderDetailTables() {
    if (!detailData) return;
    const tb = $('detail-transitions');
    const trs = detailData.transitions.map((t) => {
      const tr = el('tr');
      const trace = el('td');
      if (t.traceId) trace.append(traceLink(t.traceId, true));
      tr.append(el('td', '', fmtTime(t.at)), el('td', '', stateWord(t.from) + ' → ' + stateWord(t.to)), el('td', '', t.reason || ''), el('td', '', t.actor || 'automatic'), trace);
      return tr;
    });
    if (!trs.length) { const tr = el('tr'); const td = el('td', '', 'None recorded since the server started.'); td.colSpan = 5; tr.append(td); trs.push(tr); }
    tb.replaceChildren(...trs);
    const ob = $('detail-ops');
    const ors = detailData.operations.map((r) => {
      const tr = el('tr');
      const i = (r.before || []).findIndex((b) => b.guard === detailName);
      const change = i >= 0 ? ': ' + stateWord(r.before[i].state) + ' → ' + (r.after[i].gone ? 'pruned' : stateWord(r.after[i].state)) : '';
      const params = r.params ? Object.entries(r.params).map(([k, v]) => ' ' + k + '=' + v).join('') : '';
      tr.append(el('td', '', String(r.seq)), el('td', '', fmtTime(r.time)), el('td', '', r.op + params + change), el('td', '', r.reason), el('td', '', r.actor));
      return tr;
    });
    if (!ors.length) { const tr = el('tr'); const td = el('td', '', 'None in the recent audit log.'); td.colSpan = 5; tr.append(td); ors.push(tr); }
    ob.replaceChildren(...ors);
  }

  function drawChart() {
    const c = $('chart');
    const [w, h, dpr] = sizeCanvas(c);
    const ctx = c.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    const p = palette();
    const d = detailData;
    $('chart-title').textContent = (detailRange === '24h' ? 'Last 24 hours (1-minute rollups)' : 'Last hour (10-second rollups)') +
      (d && d.g && d.g.dropped ? ': not kept, the server\'s history is at its memory limit' : '');
    if (!d || !d.count) { c.setAttribute('aria-label', 'No history yet: the first rollup completes within ' + (rollupMs / 1000) + ' seconds'); return; }
    const g = d.g; const n = d.count;
    const z = (a) => a || new Array(n).fill(0);
    const calls = z(g.calls), failed = z(g.failed), slow = z(g.slow), rejected = z(g.rejected);
    let peak = 1; let tc = 0, tf = 0, tr = 0;
    for (let i = 0; i < n; i++) { peak = Math.max(peak, calls[i], rejected[i]); tc += calls[i]; tf += failed[i]; tr += rejected[i]; }
    const padL = 44 * dpr, padB = 18 * dpr, padT = 10 * dpr;
    const pw = w - padL - 4 * dpr, ph = h - padB - padT;
    const x = (i) => padL + pw * i / n;
    const y = (v) => padT + ph - ph * v / peak;
    ctx.font = (11 * dpr) + 'px system-ui, sans-serif';
    ctx.fillStyle = p.muted;
    ctx.strokeStyle = p.line;
    ctx.lineWidth = 1;
    for (const f of [0, 0.5, 1]) {
      const yy = Math.round(y(peak * f)) + 0.5;
      ctx.beginPath(); ctx.moveTo(padL, yy); ctx.lineTo(w, yy); ctx.stroke();
      ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
      ctx.fillText(fmtRate(peak * f), padL - 4 * dpr, yy);
    }
    // Open periods behind the series.
    if (g.severity) {
      for (let i = 0; i < n; i++) {
        const s = g.severity.charCodeAt(i) - 48;
        if (s <= 0) continue;
        ctx.fillStyle = s === 3 ? p.forced : s === 2 ? p.open : p.half;
        ctx.globalAlpha = 0.18;
        ctx.fillRect(x(i), padT, Math.max(1, pw / n), ph);
      }
      ctx.globalAlpha = 1;
    }
    const area = (arr, color, alpha) => {
      ctx.globalAlpha = alpha; ctx.fillStyle = color; ctx.beginPath(); ctx.moveTo(x(0), y(0));
      for (let i = 0; i < n; i++) { ctx.lineTo(x(i), y(arr[i])); ctx.lineTo(x(i + 1), y(arr[i])); }
      ctx.lineTo(x(n), y(0)); ctx.closePath(); ctx.fill(); ctx.globalAlpha = 1;
    };
    const line = (arr, color, dash) => {
      ctx.strokeStyle = color; ctx.lineWidth = 1.5 * dpr; ctx.setLineDash(dash ? [4 * dpr, 3 * dpr] : []); ctx.beginPath();
      for (let i = 0; i < n; i++) { const yy = y(arr[i]); if (i) ctx.lineTo(x(i + 0.5), yy); else ctx.moveTo(x(0.5), yy); }
      ctx.stroke(); ctx.setLineDash([]);
    };
    area(calls, p.calls, 0.45);
    area(failed, p.failed, 0.85);
    line(slow, p.slow, true);
    line(rejected, p.rejected, false);
    ctx.fillStyle = p.muted; ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    const ticks = 6;
    for (let k = 0; k <= ticks; k++) {
      const i = Math.round(n * k / ticks);
      const t = new Date(d.start + i * d.step);
      ctx.textAlign = k === 0 ? 'left' : k === ticks ? 'right' : 'center';
      ctx.fillText(t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), k === ticks ? w : x(i), h - padB + 4 * dpr);
    }
    c.setAttribute('aria-label', 'Chart of the ' + (detailRange === '24h' ? 'last 24 hours' : 'last hour') + ': ' + tc + ' calls (peak ' + Math.round(peak) + ' per rollup), ' + tf + ' failed, ' + tr + ' rejected');
  }

  // ---- operations ----
  const canWrite = () => !!(who && who.access === 'write');
  let opTarget = null;

  function openOp(op, target) {
    if (!canWrite()) return;
    opTarget = { op, target };
    const o = OPS[op];
    const what = target.name ? '"' + target.name + '"' : 'every guard tagged "' + target.tag + '"';
    $('op-title').textContent = o.title + ' ' + what;
    $('op-effect').textContent = o.effect;
    $('op-duration-field').hidden = op !== 'open';
    $('op-duration').value = '';
    $('op-reason').value = '';
    $('op-error').textContent = '';
    $('op-step1').hidden = false;
    $('op-step2').hidden = true;
    $('op-dialog').showModal();
    $('op-reason').focus();
  }

  function reviewOp(e) {
    e.preventDefault();
    const reason = $('op-reason').value.trim();
    if (!reason) { $('op-error').textContent = 'Say why: the reason goes in the audit log.'; $('op-reason').focus(); return; }
    $('op-error').textContent = '';
    const { op, target } = opTarget;
    const dur = op === 'open' ? $('op-duration').value : '';
    const what = target.name ? '"' + target.name + '"' : 'every guard tagged "' + target.tag + '"';
    $('op-summary').textContent = 'You are about to ' + OPS[op].verb + ' ' + what + (op === 'open' ? (dur ? ' for ' + $('op-duration').selectedOptions[0].textContent : ' until released') : '') +
      ', as ' + who.actor + ', because: “' + reason + '”.';
    $('op-confirm').textContent = 'Confirm: ' + OPS[op].verb;
    $('op-confirm').className = op === 'open' ? 'danger' : '';
    $('op-step1').hidden = true;
    $('op-step2').hidden = false;
    $('op-confirm').focus();
  }

  async function confirmOp() {
    const { op, target } = opTarget;
    const body = Object.assign({}, target, { reason: $('op-reason').value.trim() });
    if (op === 'open' && $('op-duration').value) body.duration = $('op-duration').value;
    $('op-confirm').disabled = true;
    opInFlight = true;
    try {
      const res = await fetch('v1/operations/' + op, {
        method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, authHeaders()), body: JSON.stringify(body), cache: 'no-store',
      });
      if (!res.ok) { $('op-error').textContent = 'Failed: ' + await problemDetail(res); return; }
      const r = await res.json();
      ownOps.add(r.auditSeq);
      $('op-dialog').close();
      const ch = r.changes.map((c) => c.guard + ' ' + stateWord(c.from) + ' → ' + stateWord(c.to)).slice(0, 3).join(', ');
      toast('Done (audit #' + r.auditSeq + '): ' + ch + (r.changes.length > 3 ? ' and ' + (r.changes.length - 3) + ' more' : ''));
      if (detailName) refreshDetail();
    } catch (err) {
      $('op-error').textContent = 'Failed: ' + err.message;
    } finally {
      $('op-confirm').disabled = false;
      opInFlight = false;
    }
  }

  let toastTimer = 0;
  function toast(text) {
    const t = $('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  // ---- tokens ----
  function askToken(msg) {
    $('token-msg').textContent = msg ? msg + '. A read token shows the guards; a write token also lets you operate them.' : 'A read token shows the guards; a write token also lets you operate them.';
    $('token-error').textContent = '';
    $('token-input').value = '';
    const d = $('token-dialog');
    if (!d.open) d.showModal();
    $('token-input').focus();
  }

  async function loadWho() {
    try {
      const res = await fetch('v1/whoami', { headers: authHeaders(), cache: 'no-store' });
      who = res.ok ? await res.json() : null;
    } catch { who = null; }
    renderWho();
  }

  function renderWho() {
    const signedIn = !!token();
    const txt = !who ? (signedIn ? 'Token not accepted' : 'Not signed in')
      : who.access === 'write' ? 'Signed in as ' + who.actor + ' (write)'
        : signedIn ? 'Signed in as ' + who.actor + ' (read-only)'
          : who.writable ? 'Read-only: sign in with a write token to operate' : 'Read-only';
    setText($('who'), txt);
    // Signing in is pointless on a server without a write token whose
    // reads are open.
    $('token-button').hidden = signedIn || (!!who && !who.writable);
    $('signout-button').hidden = !signedIn;
    for (const g of guards.values()) g.dirty = true;
    for (const ge of groupEls.values()) ge.actionsFor = null;
    requestRender();
  }

  async function submitToken(e) {
    e.preventDefault();
    const t = $('token-input').value.trim();
    if (!t) { $('token-error').textContent = 'Paste a token.'; return; }
    try {
      const res = await fetch('v1/whoami', { headers: { Authorization: 'Bearer ' + t }, cache: 'no-store' });
      if (!res.ok) { $('token-error').textContent = 'Not accepted: ' + await problemDetail(res); return; }
      who = await res.json();
    } catch (err) { $('token-error').textContent = 'Failed: ' + err.message; return; }
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token-input').value = '';
    $('token-dialog').close();
    renderWho();
    attempt = 0;
    connect();
  }

  // ---- wiring ----
  function init() {
    $('filter').addEventListener('input', () => {
      opts.filter = $('filter').value.toLowerCase().split(/\s+/).filter(Boolean);
      orderDirty = userOrder = true;
      requestRender();
    });
    $('view').addEventListener('change', () => { opts.view = $('view').value; orderDirty = userOrder = true; requestRender(); });
    $('sort').addEventListener('change', () => { opts.sort = $('sort').value; orderDirty = userOrder = true; requestRender(); });
    $('density').addEventListener('change', () => {
      $('guards').classList.toggle('compact', $('density').value === 'compact');
      sparkSize = null;
      for (const g of guards.values()) g.sparkDirty = true;
      requestRender();
    });
    $('problems').addEventListener('change', () => { opts.problems = $('problems').checked; orderDirty = userOrder = true; requestRender(); });
    for (const box of [$('grid'), $('groups')]) {
      box.addEventListener('pointerenter', () => { holdOrder = true; });
      box.addEventListener('pointerleave', () => { holdOrder = false; requestRender(); });
    }
    document.addEventListener('keydown', (e) => {
      const tag = (e.target && e.target.tagName) || '';
      if (e.key === '/' && !/INPUT|TEXTAREA|SELECT/.test(tag) && !document.querySelector('dialog[open]')) { e.preventDefault(); $('filter').focus(); }
    });
    $('detail-close').addEventListener('click', () => $('detail').close());
    $('detail').addEventListener('close', () => { detailName = null; detailData = null; });
    for (const b of document.querySelectorAll('.range button')) {
      b.addEventListener('click', () => {
        detailRange = b.dataset.range;
        for (const o of document.querySelectorAll('.range button')) o.setAttribute('aria-pressed', String(o === b));
        refreshDetail();
      });
    }
    $('op-form').addEventListener('submit', reviewOp);
    $('op-cancel').addEventListener('click', () => $('op-dialog').close());
    $('op-back').addEventListener('click', () => { $('op-step1').hidden = false; $('op-step2').hidden = true; $('op-reason').focus(); });
    $('op-confirm').addEventListener('click', confirmOp);
    $('token-button').addEventListener('click', () => askToken(''));
    $('token-form').addEventListener('submit', submitToken);
    $('token-cancel').addEventListener('click', () => $('token-dialog').close());
    $('signout-button').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); who = null; loadWho(); attempt = 0; connect(); });
    window.addEventListener('resize', () => { sparkSize = null; for (const g of guards.values()) g.sparkDirty = true; if (detailData) drawChart(); requestRender(); });
    setInterval(() => {
      for (const g of guards.values()) if (g.tile && g.tile.isConnected) updateCountdown(g);
      if (detailName) setText($('detail-countdown'), countdownText((guards.get(detailName) || { live: {} }).live));
    }, 1000);
    loadWho();
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();

// ---- Variants panel ----
// GET v1/variants every few seconds: each A/B or shadow variant against its
// control, and the tenant guards' count and overflow. A block of its own,
// apart from the guards view above; the panel stays hidden while the
// document has no variants and no tenant guards, or the token cannot read.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);

  function td(text, cls) {
    const c = document.createElement('td');
    c.textContent = text;
    if (cls) c.className = cls;
    return c;
  }

  function rate(a) { return (a.succeeded + a.failed) > 0 ? a.failureRate.toFixed(1) + '%' : '–'; }

  function armRow(v, arm, label, first, worse) {
    const tr = document.createElement('tr');
    if (first) {
      const th = document.createElement('th');
      th.scope = 'rowgroup';
      th.rowSpan = 2;
      const how = v.attribute ? 'attribute ' + v.attribute : v.percent + '%';
      th.textContent = v.name + ' (' + v.policy + ', ' + how + (v.shadow ? ', shadow' : '') + ')';
      tr.appendChild(th);
    }
    tr.appendChild(td(label));
    tr.appendChild(td(String(arm.guards)));
    tr.appendChild(td(String(arm.calls)));
    tr.appendChild(td(rate(arm), worse ? 'worse' : ''));
    tr.appendChild(td(String(arm.rejections)));
    tr.appendChild(td(String(arm.trips)));
    return tr;
  }

  function render(rep) {
    const panel = $('variants-panel');
    const vs = rep.variants || [];
    const tn = rep.tenants || { guards: 0, maxGuards: 0, overflow: 0 };
    panel.hidden = vs.length === 0 && !tn.guards && !tn.overflow;
    if (panel.hidden) return;
    $('variants-tenants').textContent = 'Tenant guards: ' + tn.guards + ' of at most ' + tn.maxGuards +
      '; calls past the bound (on their base guard): ' + tn.overflow + '.';
    const rows = [];
    for (const v of vs) {
      const worse = v.variant.failureRate > v.control.failureRate + 1;
      rows.push(armRow(v, v.control, 'control', true, false));
      rows.push(armRow(v, v.variant, v.shadow ? 'shadow (would-be)' : 'variant', false, worse));
    }
    $('variants-rows').replaceChildren(...rows);
  }

  async function refresh() {
    if (document.hidden || !$('variants-panel')) return;
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    try {
      const res = await fetch('v1/variants', { headers: t ? { Authorization: 'Bearer ' + t } : {}, cache: 'no-store' });
      if (!res.ok) { $('variants-panel').hidden = true; return; }
      render(await res.json());
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    refresh();
    setInterval(refresh, POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();

// ---- issue #23: dependency graph and maintenance windows ----
// GET v1/dependencies and v1/maintenance every few seconds. The graph is an
// SVG built with DOM calls: guards in columns by depth (a guard's column is
// one past its deepest dependency's), an arrow from each guard to each guard
// it depends on, open ones outlined. The panels stay hidden while there is
// nothing to show, the server serves no maintenance windows (501), or the
// token cannot read.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 5000;
  // The SVG namespace, read from the panel's own <svg> element (the page
  // names no outside address, not even a namespace URI).
  const svgNS = () => $('deps-svg').namespaceURI;
  const $ = (id) => document.getElementById(id);
  const DOWN = { 'open': true, 'forced-open': true, 'half-open': true };

  function el(name, attrs, text) {
    const n = document.createElementNS(svgNS(), name);
    for (const k in attrs) n.setAttribute(k, String(attrs[k]));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // depths gives each guard its column: 0 for a guard that depends on none.
  function depths(graph) {
    const on = {};
    for (const e of graph.edges) (on[e.guard] = on[e.guard] || []).push(e.on);
    const depth = {};
    function visit(n, seen) {
      if (depth[n] !== undefined) return depth[n];
      if (seen[n]) return 0; // cycles are refused at load; be safe anyway
      seen[n] = true;
      let d = 0;
      for (const m of on[n] || []) d = Math.max(d, visit(m, seen) + 1);
      depth[n] = d;
      return d;
    }
    for (const g of graph.guards) visit(g.name, {});
    return depth;
  }

  function drawGraph(graph) {
    const W = 170, H = 34, GX = 60, GY = 16;
    const depth = depths(graph);
    const cols = [];
    for (const g of graph.guards) (cols[depth[g.name]] = cols[depth[g.name]] || []).push(g);
    const pos = {};
    let rows = 0;
    cols.forEach((col, c) => {
      (col || []).forEach((g, r) => { pos[g.name] = { x: 8 + c * (W + GX), y: 8 + r * (H + GY) }; });
      rows = Math.max(rows, (col || []).length);
    });
    const width = 16 + cols.length * (W + GX) - GX, height = 16 + rows * (H + GY) - GY;
    const svg = $('deps-svg');
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.replaceChildren();
    const defs = el('defs', {});
    const marker = el('marker', { id: 'deps-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' });
    marker.appendChild(el('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    for (const e of graph.edges) {
      const a = pos[e.guard], b = pos[e.on];
      if (!a || !b) continue;
      // From the dependent's left side to the dependency's right side.
      svg.appendChild(el('line', { x1: a.x, y1: a.y + H / 2, x2: b.x + W, y2: b.y + H / 2, 'marker-end': 'url(#deps-arrow)' }));
    }
    for (const g of graph.guards) {
      const p = pos[g.name];
      const grp = el('g', { class: DOWN[g.state] ? 'down' : '' });
      grp.appendChild(el('title', {}, g.name + ': ' + g.state + (g.causes && g.causes.length ? ' (because ' + g.causes.join(' ← ') + ')' : '')));
      grp.appendChild(el('rect', { x: p.x, y: p.y, width: W, height: H, rx: 5 }));
      const label = g.name.length > 22 ? g.name.slice(0, 21) + '…' : g.name;
      grp.appendChild(el('text', { x: p.x + 8, y: p.y + 14 }, label));
      grp.appendChild(el('text', { x: p.x + 8, y: p.y + 28, class: 'state' }, g.state));
      svg.appendChild(grp);
    }
    const items = [];
    for (const g of graph.guards) {
      if (!g.causes || !g.causes.length) continue;
      const li = document.createElement('li');
      li.textContent = g.name + ' is ' + g.state + ' because ' + g.causes.map((c) => c + ' is open').join(', because ');
      items.push(li);
    }
    $('deps-causes').replaceChildren(...items);
  }

  function fmt(t) { return t ? new Date(t).toLocaleString() : '–'; }

  function td(text, cls) {
    const c = document.createElement('td');
    c.textContent = text;
    if (cls) c.className = cls;
    return c;
  }

  function selection(w) {
    const parts = [];
    if (w.guard) parts.push('guard ' + w.guard);
    if (w.tag) parts.push('tag ' + w.tag);
    if (w.guards && w.guards.length) parts.push((w.guards.length > 1 ? 'guards ' : 'guard ') + w.guards.join(', '));
    if (w.tags && w.tags.length) parts.push((w.tags.length > 1 ? 'tags ' : 'tag ') + w.tags.join(', '));
    return parts.join('; ');
  }

  function drawWindows(list) {
    const rows = [];
    for (const w of list.windows) {
      const tr = document.createElement('tr');
      const name = td(w.name);
      if (w.source === 'policy') { // a window of the policy document: changed by applying another
        const b = document.createElement('span');
        b.className = 'maint-source';
        b.textContent = ' policy v' + w.policyVersion;
        b.title = 'from the policy document (version ' + w.policyVersion + '); change it there';
        name.appendChild(b);
      }
      tr.appendChild(name);
      tr.appendChild(td(selection(w)));
      tr.appendChild(td(w.action));
      tr.appendChild(td(w.schedule ? w.schedule + ' for ' + w.duration + ' (' + w.timeZone + ')' : 'once'));
      tr.appendChild(td(w.active ? 'active' : (w.from ? 'upcoming' : 'over'), w.active ? 'active' : ''));
      tr.appendChild(td(fmt(w.from)));
      tr.appendChild(td(fmt(w.until)));
      rows.push(tr);
    }
    $('maint-rows').replaceChildren(...rows);
  }

  async function get(path) {
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    const res = await fetch(path, { headers: t ? { Authorization: 'Bearer ' + t } : {}, cache: 'no-store' });
    return res.ok ? res.json() : null;
  }

  async function refresh() {
    if (document.hidden || !$('deps-panel')) return;
    try {
      const graph = await get('v1/dependencies');
      $('deps-panel').hidden = !graph || graph.guards.length === 0;
      if (graph && graph.guards.length) drawGraph(graph);
      const list = await get('v1/maintenance');
      $('maint-panel').hidden = !list || list.windows.length === 0;
      if (list && list.windows.length) drawWindows(list);
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    refresh();
    setInterval(refresh, POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
// ---- end issue #23 ----

// ---- Chaos panel (issue 23) ----
// GET v1/chaos every few seconds: the experiments injecting faults now. A
// block of its own; the panel stays hidden while none runs, when the
// registry was built without chaos, or when the token cannot read.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);

  function td(text) {
    const c = document.createElement('td');
    c.textContent = text;
    return c;
  }

  function fault(e) {
    if (e.fault === 'trip') return 'trip (breakers opened)';
    const rate = Math.round(e.rate * 1000) / 10 + '%';
    return e.fault + (e.fault === 'latency' ? ' +' + e.latency : '') + ' at ' + rate;
  }

  function scope(e) {
    const parts = [];
    if (e.tags && e.tags.length) parts.push('tags ' + e.tags.join(', '));
    if (e.tenants && e.tenants.length) parts.push('tenants ' + e.tenants.join(', '));
    if (e.percent) parts.push(e.percent + '% of guards');
    if (e.allowCritical) parts.push('critical allowed');
    return parts.join('; ') || '–';
  }

  function render(rep) {
    const panel = $('chaos-panel');
    const act = (rep.experiments || []).filter((e) => e.active);
    panel.hidden = !rep.enabled || act.length === 0;
    if (panel.hidden) return;
    $('chaos-limits').textContent = 'At most ' + rep.maxGuards + ' guards under chaos at once; critical guards only when an experiment allows them.';
    $('chaos-rows').replaceChildren(...act.map((e) => {
      const tr = document.createElement('tr');
      tr.appendChild(td(e.id));
      tr.appendChild(td(fault(e)));
      tr.appendChild(td((e.targets || []).join(', ')));
      tr.appendChild(td(scope(e)));
      tr.appendChild(td(e.injected + ' / ' + e.calls));
      tr.appendChild(td(new Date(e.ends).toLocaleTimeString()));
      tr.appendChild(td((e.actor || '') + (e.source === 'policy' ? ' (policy document)' : '')));
      return tr;
    }));
  }

  async function refresh() {
    if (document.hidden || !$('chaos-panel')) return;
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    try {
      const res = await fetch('v1/chaos', { headers: t ? { Authorization: 'Bearer ' + t } : {}, cache: 'no-store' });
      if (!res.ok) { $('chaos-panel').hidden = true; return; }
      render(await res.json());
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    refresh();
    setInterval(refresh, POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
// ---- End of the chaos panel ----

// ---- Cost panel (issue 23) ----
// GET v1/cost?since=24h every minute: spend and spend avoided by currency.
// Amounts arrive as integer micro-units and are printed exactly, without
// floating point. Hidden while no policy has a cost or the token cannot read.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 60000;
  const $ = (id) => document.getElementById(id);

  function money(micros) {
    const neg = micros < 0;
    const s = String(Math.abs(micros)).padStart(7, '0');
    const out = s.slice(0, -6) + '.' + s.slice(-6).replace(/0{1,4}$/, '');
    return (neg ? '-' : '') + out;
  }

  function td(text) {
    const c = document.createElement('td');
    c.textContent = text;
    return c;
  }

  function render(rep) {
    const panel = $('cost-panel');
    const totals = rep.totals || [];
    panel.hidden = totals.length === 0;
    if (panel.hidden) return;
    $('cost-rows').replaceChildren(...totals.map((t) => {
      const tr = document.createElement('tr');
      tr.appendChild(td(t.currency));
      tr.appendChild(td(money(t.spentMicros + t.retrySpentMicros)));
      tr.appendChild(td(money(t.avoidedByBreakerMicros)));
      tr.appendChild(td(money(t.avoidedByRateLimitMicros)));
      return tr;
    }));
  }

  async function refresh() {
    if (document.hidden || !$('cost-panel')) return;
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    try {
      const res = await fetch('v1/cost?since=24h', { headers: t ? { Authorization: 'Bearer ' + t } : {}, cache: 'no-store' });
      if (!res.ok) { $('cost-panel').hidden = true; return; }
      render(await res.json());
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    refresh();
    setInterval(refresh, POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
// ---- End of the cost panel ----

// ---- Overhead panel (issue 23) ----
// GET v1/guards every 30 seconds: the time each guard adds to its calls,
// measured on about one call in 1024 (gates and report, hooks included).
// Shows the median over guards and the five costliest. Hidden until a
// guard has a sample.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 30000;
  const $ = (id) => document.getElementById(id);

  // Durations arrive as Go duration strings ("61ns", "1.2µs").
  function nanos(d) {
    const m = /^([0-9.]+)(ns|µs|us|ms|s)$/.exec(d || '');
    if (!m) return 0;
    return parseFloat(m[1]) * { ns: 1, 'µs': 1e3, us: 1e3, ms: 1e6, s: 1e9 }[m[2]];
  }

  function td(text) {
    const c = document.createElement('td');
    c.textContent = text;
    return c;
  }

  function render(list) {
    const gs = (list.guards || []).filter((g) => g.overhead);
    const panel = $('overhead-panel');
    panel.hidden = gs.length === 0;
    if (panel.hidden) return;
    gs.sort((a, b) => nanos(b.overhead.perCall) - nanos(a.overhead.perCall));
    const med = gs[Math.floor(gs.length / 2)].overhead.perCall;
    const samples = gs.reduce((n, g) => n + g.overhead.samples, 0);
    $('overhead-summary').textContent = 'breakerbox adds ' + med + ' per call (median over ' + gs.length +
      ' guards; ' + samples + ' sampled calls, about one in ' + gs[0].overhead.sampleEvery + ').';
    $('overhead-rows').replaceChildren(...gs.slice(0, 5).map((g) => {
      const tr = document.createElement('tr');
      tr.appendChild(td(g.name));
      tr.appendChild(td(g.overhead.perCall));
      tr.appendChild(td(g.overhead.gates));
      tr.appendChild(td(g.overhead.report));
      tr.appendChild(td(g.overhead.max));
      tr.appendChild(td(String(g.overhead.samples)));
      return tr;
    }));
  }

  async function refresh() {
    if (document.hidden || !$('overhead-panel')) return;
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    try {
      const res = await fetch('v1/guards', { headers: t ? { Authorization: 'Bearer ' + t } : {}, cache: 'no-store' });
      if (!res.ok) { $('overhead-panel').hidden = true; return; }
      render(await res.json());
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    refresh();
    setInterval(refresh, POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
// ---- End of the overhead panel ----

// ---- Custom states panel (issue 23) ----
// GET v1/machines every few seconds: one figure per guard with custom
// states, an SVG built with DOM calls. States stand in a row in the
// policy's order; a transition to a later state arcs above the row, one
// to an earlier state below it, labelled with its conditions. The current
// state is highlighted (class "current"), manual states are dashed. The
// panel stays hidden while no guard has custom states or the token cannot
// read.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 3000;
  const $ = (id) => document.getElementById(id);
  // The SVG namespace, read from the panel's own <svg> element (the page
  // names no outside address).
  const svgNS = () => $('machines-ns').namespaceURI;
  const W = 150, H = 44, GX = 90, ARC = 34, LANE = 18;
  let seq = 0; // marker ids, unique in the page

  function el(name, attrs, text) {
    const n = document.createElementNS(svgNS(), name);
    for (const k in attrs) n.setAttribute(k, String(attrs[k]));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function admitText(s) {
    let t = s.admit === 'percent' ? 'admits ' + s.percent + '%' : s.admit === 'readOnly' ? 'admits reads' : s.admit === 'none' ? 'admits none' : 'admits all';
    if (s.manual) t += ', manual';
    return t;
  }

  function draw(m) {
    const idx = {};
    m.states.forEach((s, i) => { idx[s.name] = i; });
    // Arcs between the same pair of states get lanes, so labels do not
    // overlap; forward arcs go above, backward ones below.
    const above = [], below = [];
    m.transitions.forEach((t) => { (idx[t.to] > idx[t.from] ? above : below).push(t); });
    const top = 24 + above.length * LANE + ARC, height = top + H + ARC + below.length * LANE + 24;
    const width = 16 + m.states.length * (W + GX) - GX;
    const svg = el('svg', { viewBox: '0 0 ' + width + ' ' + height, width: width, height: height, role: 'img', 'aria-label': 'Custom states of ' + m.guard, 'data-guard': m.guard });
    const defs = el('defs', {});
    const marker = el('marker', { id: 'machine-arrow-' + (++seq), viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' });
    marker.appendChild(el('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    const cx = (i) => 8 + i * (W + GX) + W / 2;
    const arcs = (list, up) => list.forEach((t, k) => {
      const a = idx[t.from], b = idx[t.to];
      if (a === undefined || b === undefined) return;
      const lift = ARC + (k + 1) * LANE;
      const y = up ? top : top + H;
      const off = up ? -lift : lift;
      const x1 = cx(a) + (b > a ? 12 : -12), x2 = cx(b) + (b > a ? -12 : 12);
      const g = el('g', { class: 'edge', 'data-from': t.from, 'data-to': t.to });
      g.appendChild(el('title', {}, t.from + ' → ' + t.to + ' when ' + t.when));
      g.appendChild(el('path', { d: 'M ' + x1 + ' ' + y + ' C ' + x1 + ' ' + (y + off) + ', ' + x2 + ' ' + (y + off) + ', ' + x2 + ' ' + y, 'marker-end': 'url(#' + marker.id + ')' }));
      g.appendChild(el('text', { x: (x1 + x2) / 2, y: y + off * 0.75 + (up ? -3 : 11), 'text-anchor': 'middle', class: 'cond' }, t.when));
      svg.appendChild(g);
    });
    arcs(above, true);
    arcs(below, false);
    m.states.forEach((s, i) => {
      const x = 8 + i * (W + GX);
      const cls = ['state'];
      if (s.name === m.status.state) cls.push('current');
      if (s.manual) cls.push('manual');
      const g = el('g', { class: cls.join(' '), 'data-state': s.name });
      g.appendChild(el('title', {}, s.name + ': ' + admitText(s) + (s.name === m.status.state ? ' (current)' : '') + (s.name === m.initial ? ' (initial)' : '')));
      g.appendChild(el('rect', { x: x, y: top, width: W, height: H, rx: 8 }));
      g.appendChild(el('text', { x: x + W / 2, y: top + 18, 'text-anchor': 'middle', class: 'state-name' }, s.name));
      g.appendChild(el('text', { x: x + W / 2, y: top + 35, 'text-anchor': 'middle', class: 'admit' }, admitText(s)));
      svg.appendChild(g);
    });
    return svg;
  }

  function figure(m) {
    const f = document.createElement('figure');
    f.className = 'machine';
    f.dataset.guard = m.guard;
    const cap = document.createElement('figcaption');
    const name = document.createElement('strong');
    name.textContent = m.guard;
    const st = document.createElement('span');
    st.className = 'machine-state';
    st.textContent = m.status.state;
    const since = m.status.since ? ' since ' + new Date(m.status.since).toLocaleTimeString() : '';
    cap.append(name, ' (policy ' + m.policy + ') is ', st, since + ' · window ' + m.status.calls + ' calls, ' + m.status.failures + ' failed · rejected ' + m.status.rejected + ' · ' + m.status.transitions + ' transitions');
    const wrap = document.createElement('div');
    wrap.className = 'machine-graph';
    wrap.appendChild(draw(m));
    f.append(cap, wrap);
    return f;
  }

  async function get(path) {
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    const res = await fetch(path, { headers: t ? { Authorization: 'Bearer ' + t } : {}, cache: 'no-store' });
    return res.ok ? res.json() : null;
  }

  // A machine's drawing depends on its definition and its state; redraw
  // only when either changed, so that a reader's hover is not lost.
  let last = '';

  async function refresh() {
    if (document.hidden || !$('machines-panel')) return;
    try {
      const list = await get('v1/machines');
      const ms = list ? list.machines : [];
      $('machines-panel').hidden = ms.length === 0;
      const key = JSON.stringify(ms);
      if (key === last) return;
      last = key;
      $('machines-list').replaceChildren(...ms.map(figure));
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    refresh();
    setInterval(refresh, POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
// ---- End of the custom states panel ----

// ---- Fleet panel (issue 20) ----
// GET v1/fleet every few seconds: this replica's fleet. A block of its own;
// the panel stays hidden unless the server is in a fleet (the endpoint
// answers 404 fleet_off otherwise) and the token can read. Everything shown
// comes from the store, so it is set as text, never parsed as markup.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);

  function td(text, cls) {
    const c = document.createElement('td');
    c.textContent = text;
    if (cls) c.className = cls;
    return c;
  }

  function row(cells, attrs) {
    const tr = document.createElement('tr');
    for (const c of cells) tr.appendChild(c);
    for (const k in attrs || {}) tr.setAttribute(k, attrs[k]);
    return tr;
  }

  function render(rep) {
    const members = rep.members || [];
    const store = rep.store || {};
    const badge = $('fleet-store');
    badge.dataset.store = store.up ? 'up' : 'degraded';
    badge.textContent = store.up ? 'store up' : 'store degraded';
    badge.title = store.up ? '' : (store.lastError || 'unreachable') + (store.since ? ' (since ' + new Date(store.since).toLocaleString() + ')' : '');
    let summary = 'This replica is ' + (rep.self && rep.self.id) + '; ' + members.length + ' replica' + (members.length === 1 ? '' : 's') + ' live.';
    if (!store.up) summary += ' The store is unreachable: ' + (store.lastError || 'no answer') + '. Guards decide alone, and fleet actions are refused until it is back.';
    if (store.errors || store.skipped) {
      summary += ' Store calls failed: ' + store.errors + ' (timed out: ' + (store.timeouts || 0) + '); skipped while its breaker was open: ' + (store.skipped || 0) + '.';
    }
    if (store.dropped || store.malformed || store.allowedByFailureMode) {
      summary += ' Publications dropped: ' + store.dropped + '; malformed values: ' + store.malformed + '; calls allowed by failure mode: ' + store.allowedByFailureMode + '.';
    }
    $('fleet-summary').textContent = summary;
    $('fleet-members').replaceChildren(...members.map((m) => row([
      td(m.id + (rep.self && m.id === rep.self.id ? ' (this one)' : '')),
      td(m.region || '–'),
      td(m.version || '–'),
      td(m.policy ? 'v' + m.policy : '–'),
    ], { 'data-replica': m.id })));
    $('fleet-guards').replaceChildren(...(rep.guards || []).map((g) => {
      const votes = g.openVotes || [];
      const vc = td(votes.length + ' of ' + members.length);
      if (votes.length) vc.title = votes.join(', ');
      const lease = g.lease ? g.lease.holder + ' (' + g.lease.outcome + ')' : '–';
      return row([
        td(g.guard),
        td(g.rule || '–'),
        vc,
        td(g.adopted ? 'yes, open' : 'no', g.adopted ? 'adopted' : ''),
        td(lease),
      ], { 'data-guard': g.guard });
    }));
    const ovs = rep.overrides || [];
    $('fleet-overrides-table').hidden = ovs.length === 0;
    $('fleet-overrides').replaceChildren(...ovs.map((o) => row([
      td(String(o.version)),
      td(o.target),
      td(o.action),
      td(o.actor || '–'),
      td(o.reason || '–'),
    ])));
  }

  // inFleet is whether the server is in a fleet, as v1/whoami says once it
  // answers: a server without one answers v1/fleet with a 404, which the
  // page does not ask for (a browser logs every failed request as an error).
  let inFleet = null;
  let timer = null;

  async function refresh() {
    if (document.hidden || !$('fleet-panel')) return;
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    const headers = t ? { Authorization: 'Bearer ' + t } : {};
    try {
      if (inFleet === null) {
        const who = await fetch('v1/whoami', { headers, cache: 'no-store' });
        if (!who.ok) return; // not signed in yet: ask again at the next poll
        inFleet = !!(await who.json()).fleet;
        if (!inFleet) {
          $('fleet-panel').dataset.fleet = 'off';
          clearInterval(timer);
          return;
        }
      }
      const res = await fetch('v1/fleet', { headers, cache: 'no-store' });
      // data-fleet says what the last answer was: "off" (no fleet, or
      // not readable with this token) or "on".
      if (!res.ok) { $('fleet-panel').hidden = true; $('fleet-panel').dataset.fleet = 'off'; return; }
      render(await res.json());
      $('fleet-panel').hidden = false;
      $('fleet-panel').dataset.fleet = 'on';
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    timer = setInterval(refresh, POLL_MS);
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
// ---- End of the fleet panel ----

// ---- Regions panel (issue 26) ----
// GET v1/regions every few seconds: every region side by side, from the
// summaries this replica last read. A block of its own; hidden unless
// v1/whoami says the server reads region summaries. Everything shown comes
// from other regions' stores, so it is set as text, never parsed as markup.
(function () {
  'use strict';
  const TOKEN_KEY = 'breakerbox.token'; // the guards view's key
  const POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);

  function cell(tag, text, attrs) {
    const c = document.createElement(tag);
    c.textContent = text;
    for (const k in attrs || {}) c.setAttribute(k, attrs[k]);
    return c;
  }

  function pct(x) { return Math.round((x || 0) * 100) + '%'; }

  function render(rep) {
    const regions = rep.regions || [];
    let summary = 'This replica is ' + rep.replica + ' in region ' + rep.region +
      (rep.leader ? ', and publishes its summary' : '') + '; ' + regions.length + ' region' + (regions.length === 1 ? '' : 's') + ' with a live summary.';
    if (rep.errors || rep.malformed) summary += ' Store calls failed: ' + (rep.errors || 0) + '; malformed summaries: ' + (rep.malformed || 0) + '.';
    $('regions-summary').textContent = summary;
    const head = [cell('th', 'Guard', { scope: 'col' })];
    for (const r of regions) {
      const th = cell('th', r.region + (r.self ? ' (this one)' : ''), { scope: 'col', 'data-region': r.region });
      th.title = r.members + ' replicas; summary #' + r.seq + ' by ' + r.by + ', age ' + r.age;
      head.push(th);
    }
    $('regions-head').replaceChildren(...head);
    const names = [];
    for (const r of regions) for (const g of r.guards || []) if (!names.includes(g.guard)) names.push(g.guard);
    names.sort();
    $('regions-guards').replaceChildren(...names.map((name) => {
      const tr = document.createElement('tr');
      tr.setAttribute('data-guard', name);
      tr.appendChild(cell('td', name));
      for (const r of regions) {
        const g = (r.guards || []).find((x) => x.guard === name);
        if (!g) { tr.appendChild(cell('td', '–', { 'data-region': r.region })); continue; }
        const td = cell('td', (g.open ? 'open' : 'closed') + ' · ' + pct(g.share) + ' of replicas · ' + (g.failureRate || 0) + '% failing',
          { 'data-region': r.region, 'data-open': String(!!g.open) });
        td.title = 'state on ' + r.by + ': ' + (g.state || '–') + '; limiter ' + pct(g.limiterUse) + '; bulkhead ' + pct(g.bulkheadUse);
        tr.appendChild(td);
      }
      return tr;
    }));
    const global = rep.global || [];
    $('regions-global-table').hidden = global.length === 0;
    $('regions-global').replaceChildren(...global.map((g) => {
      const tr = document.createElement('tr');
      tr.setAttribute('data-guard', g.guard);
      tr.appendChild(cell('td', g.guard));
      tr.appendChild(cell('td', String(g.regions)));
      tr.appendChild(cell('td', (g.openIn || []).length ? g.openIn.join(', ') : '–'));
      const held = cell('td', g.adopted ? 'yes, open' : 'no');
      if (g.adopted) held.className = 'held';
      tr.appendChild(held);
      return tr;
    }));
  }

  let inRegions = null;
  let timer = null;

  async function refresh() {
    if (document.hidden || !$('regions-panel')) return;
    const t = sessionStorage.getItem(TOKEN_KEY) || '';
    const headers = t ? { Authorization: 'Bearer ' + t } : {};
    try {
      if (inRegions === null) {
        const who = await fetch('v1/whoami', { headers, cache: 'no-store' });
        if (!who.ok) return; // not signed in yet: ask again at the next poll
        inRegions = !!(await who.json()).regions;
        if (!inRegions) {
          $('regions-panel').dataset.regions = 'off';
          clearInterval(timer);
          return;
        }
      }
      const res = await fetch('v1/regions', { headers, cache: 'no-store' });
      if (!res.ok) { $('regions-panel').hidden = true; $('regions-panel').dataset.regions = 'off'; return; }
      render(await res.json());
      $('regions-panel').hidden = false;
      $('regions-panel').dataset.regions = 'on';
    } catch (e) {
      // The connection indicator of the guards view reports the server's state.
    }
  }

  function init() {
    timer = setInterval(refresh, POLL_MS);
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
// ---- End of the regions panel ----
