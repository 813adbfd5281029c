// breakerbox dashboard: the Policies view (GET v1/policies, its history,
// its documentation; rollback with a write token). Kept apart from
// dashboard.js: it shares only the token in session storage.
//
// The documentation is the Markdown page of GET v1/policies/docs (the one
// breakerctl policy docs writes), rendered here by a renderer of the subset
// that page uses: headings, paragraphs, "- " lists, `code`, **strong** and
// ```mermaid blocks (shown as their source). Every text goes in through
// textContent.
'use strict';
(() => {
  const TOKEN_KEY = 'breakerbox.token';
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const headers = () => {
    const t = sessionStorage.getItem(TOKEN_KEY);
    return t ? { Authorization: 'Bearer ' + t } : {};
  };
  async function detail(res) {
    try { const p = await res.json(); return p.detail || p.title || res.statusText; } catch { return res.statusText; }
  }
  const when = (t) => { const d = new Date(t); return isNaN(d) ? '' : d.toLocaleString(); };

  let writer = false;
  let rollbackTo = 0;

  async function load() {
    const box = $('policies-body');
    const msg = $('policies-msg');
    msg.textContent = 'Loading…';
    box.hidden = true;
    try {
      const w = await fetch('v1/whoami', { headers: headers(), cache: 'no-store' });
      writer = w.ok && (await w.json()).access === 'write';
      const res = await fetch('v1/policies', { headers: headers(), cache: 'no-store' });
      if (res.status === 501) { msg.textContent = 'This server serves no policy documents (it was built without admin.WithPolicyManager).'; return; }
      if (res.status === 404) { msg.textContent = 'No policy document has been applied yet.'; return; }
      if (!res.ok) { msg.textContent = 'Could not load the policies: ' + await detail(res); return; }
      const live = await res.json();
      $('policies-version').textContent = String(live.version);
      $('policies-hash').textContent = live.hash;
      $('policies-source').textContent = [live.source, live.actor, when(live.at)].filter(Boolean).join(' · ') +
        (live.rollbackOf ? ' · rollback of version ' + live.rollbackOf : '');
      const [hres, dres] = await Promise.all([
        fetch('v1/policies/history?limit=50', { headers: headers(), cache: 'no-store' }),
        fetch('v1/policies/docs', { headers: headers(), cache: 'no-store' }),
      ]);
      renderHistory(hres.ok ? await hres.json() : { live: live.version, versions: [] });
      $('policies-docs').replaceChildren(...(dres.ok ? renderMarkdown(await dres.text()) : []));
      msg.textContent = '';
      box.hidden = false;
    } catch (err) {
      msg.textContent = 'Could not load the policies: ' + err.message;
    }
  }

  // inline appends text to parent, with `code` and **strong** marks.
  function inline(parent, text) {
    const re = /`([^`]*)`|\*\*([^*]*)\*\*/g;
    let last = 0;
    for (let m; (m = re.exec(text));) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      parent.append(m[1] !== undefined ? el('code', '', m[1]) : el('strong', '', m[2]));
      last = re.lastIndex;
    }
    if (last < text.length) parent.append(text.slice(last));
    return parent;
  }

  // renderMarkdown returns the nodes of the page's Markdown subset.
  function renderMarkdown(md) {
    const out = [];
    let list = null;
    let pre = null;
    for (const line of md.split('\n')) {
      if (pre) {
        if (line === '```') { out.push(pre); pre = null; } else pre.textContent += (pre.textContent ? '\n' : '') + line;
        continue;
      }
      if (line.startsWith('- ')) {
        if (!list) { list = el('ul'); out.push(list); }
        list.append(inline(el('li'), line.slice(2)));
        continue;
      }
      list = null;
      const h = /^(#{1,3}) (.*)$/.exec(line);
      if (h) out.push(inline(el('h' + (h[1].length + 2)), h[2]));
      else if (line.startsWith('```')) pre = el('pre', 'mermaid');
      else if (line.trim()) out.push(inline(el('p'), line));
    }
    if (pre) out.push(pre);
    return out;
  }

  function renderHistory(h) {
    const body = $('policies-history');
    body.replaceChildren();
    $('policies-actions-col').hidden = !writer;
    for (const v of h.versions) {
      const tr = el('tr');
      const num = el('td', 'num', String(v.version));
      if (v.live) num.append(' ', el('span', 'badge live', 'live'));
      tr.append(num, el('td', '', when(v.at)), el('td', '', v.actor || ''), el('td', '', v.source || ''),
        el('td', '', (v.rollbackOf ? '(rollback of ' + v.rollbackOf + ') ' : '') + (v.reason || '')),
        el('td', 'hash', (v.hash || '').replace(/^sha256:/, '').slice(0, 12)));
      if (writer) {
        const td = el('td');
        if (!v.live) {
          const b = el('button', '', 'Roll back to ' + v.version + '…');
          b.type = 'button';
          b.addEventListener('click', () => askRollback(v.version));
          td.append(b);
        }
        tr.append(td);
      }
      body.append(tr);
    }
  }

  function askRollback(v) {
    rollbackTo = v;
    $('policy-rollback-title').textContent = 'Roll back to version ' + v;
    $('policy-rollback-reason').value = '';
    $('policy-rollback-error').textContent = '';
    $('policy-rollback-dialog').showModal();
    $('policy-rollback-reason').focus();
  }

  async function confirmRollback(e) {
    e.preventDefault();
    const reason = $('policy-rollback-reason').value.trim();
    if (!reason) { $('policy-rollback-error').textContent = 'Say why: the reason goes in the audit log.'; return; }
    $('policy-rollback-confirm').disabled = true;
    try {
      const res = await fetch('v1/policies/rollback', {
        method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, headers()),
        body: JSON.stringify({ version: rollbackTo, reason }), cache: 'no-store',
      });
      if (!res.ok) { $('policy-rollback-error').textContent = 'Failed: ' + await detail(res); return; }
      $('policy-rollback-dialog').close();
      load();
    } catch (err) {
      $('policy-rollback-error').textContent = 'Failed: ' + err.message;
    } finally {
      $('policy-rollback-confirm').disabled = false;
    }
  }

  function toggle() {
    const s = $('policies');
    const open = s.hidden;
    s.hidden = !open;
    $('policies-button').setAttribute('aria-expanded', String(open));
    if (open) { load(); s.focus(); }
  }

  function init() {
    $('policies-button').addEventListener('click', toggle);
    $('policies-close').addEventListener('click', toggle);
    $('policies-reload').addEventListener('click', load);
    $('policy-rollback-form').addEventListener('submit', confirmRollback);
    $('policy-rollback-cancel').addEventListener('click', () => $('policy-rollback-dialog').close());
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
