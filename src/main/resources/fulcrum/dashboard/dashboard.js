'use strict';
// Fulcrum's dashboard: polls GET /overview of the admin API every POLL_MS and renders it into
// the tables of index.html. No library, no build step. With a token configured, the API answers
// 401 until the operator gives the token; it is kept in sessionStorage (this tab only) and sent
// as "Authorization: Bearer", the API's own authentication. Actions (register, deregister) use
// the API's own routes and are offered only once the API has let this page read with the same
// credentials, which is what it asks of a change too.

const POLL_MS = 2000;
const TOKEN_KEY = 'fulcrum.admin.token';
const STATE_MARK = { healthy: '✔', unhealthy: '✖', initial: '…', draining: '⇣', unused: '–', removed: '⌫' };

const $ = (id) => document.getElementById(id);
let lastOk = null;
let timer = null;
let inFlight = false;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** A request to the admin API with the token when there is one; resolves to the Response. */
function api(method, path, body) {
  const headers = {};
  const t = token();
  if (t) {
    headers.Authorization = 'Bearer ' + t;
  }
  const init = { method, headers, cache: 'no-store', signal: AbortSignal.timeout(10000) };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

/** Builds an element: attrs are properties (or aria-/data- attributes), children text or nodes. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) {
      continue;
    }
    if (k.startsWith('aria-') || k.startsWith('data-') || k === 'scope' || k === 'role') {
      e.setAttribute(k, v);
    } else {
      e[k] = v;
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined) {
      e.append(c);
    }
  }
  return e;
}

function rate(x) {
  if (x === null || x === undefined) {
    return '–';
  }
  return x >= 10 ? Math.round(x).toString() : x >= 1 ? x.toFixed(1) : x === 0 ? '0' : x.toFixed(2);
}

function millis(ms) {
  if (ms === null || ms === undefined) {
    return '–';
  }
  if (ms >= 10000) {
    return (ms / 1000).toFixed(1) + ' s';
  }
  return (ms >= 100 ? Math.round(ms) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(2)) + ' ms';
}

function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) {
    return s + ' s ago';
  }
  if (s < 5400) {
    return Math.round(s / 60) + ' min ago';
  }
  if (s < 129600) {
    return Math.round(s / 3600) + ' h ago';
  }
  return Math.round(s / 86400) + ' d ago';
}

/** "2xx 12 · 5xx 0.5": the status classes seen in the latest sample, or "none". */
function byStatus(traffic, classes) {
  if (!traffic) {
    return 'no requests yet';
  }
  const parts = [];
  classes.forEach((c) => {
    const r = traffic.per_second[c];
    if (r > 0) {
      parts.push((c === 'none' ? 'no answer' : c) + ' ' + rate(r));
    }
  });
  return parts.length ? parts.join(' · ') : 'none';
}

/** A small chart of requests/s (all, and 4xx+5xx as a darker band) over the samples kept. */
function chart(traffic, classes, sampleSeconds) {
  const W = 100;
  const H = 28;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('width', W);
  svg.setAttribute('height', H);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const series = traffic && traffic.series ? traffic.series : [];
  const err = classes.map((c) => c === '4xx' || c === '5xx');
  const totals = series.map((p) => p.reduce((a, b) => a + b, 0));
  const errors = series.map((p) => p.reduce((a, b, i) => a + (err[i] ? b : 0), 0));
  const max = Math.max(1, ...totals);
  const minutes = Math.round(series.length * sampleSeconds / 60 * 10) / 10;
  const label = series.length === 0 ? 'no samples yet'
    : `requests per second over the last ${minutes} min: peak ${rate(Math.max(...totals))}, `
      + `now ${rate(totals[totals.length - 1])}, of which 4xx/5xx ${rate(errors[errors.length - 1])}`;
  svg.setAttribute('aria-label', label);
  const title = document.createElementNS(ns, 'title');
  title.textContent = label;
  svg.append(title);
  // Up to SLOTS_SHOWN samples; a shorter history is drawn over at least a minute's width.
  const step = W / Math.min(SLOTS_SHOWN, Math.max(series.length, 60 / sampleSeconds));
  const x0 = W - series.length * step;
  const area = (values, cls) => {
    if (values.length === 0) {
      return;
    }
    let d = `M${x0.toFixed(1)},${H}`;
    values.forEach((v, i) => {
      const y = H - (v / max) * (H - 2);
      d += `L${(x0 + i * step).toFixed(1)},${y.toFixed(1)}L${(x0 + (i + 1) * step).toFixed(1)},${y.toFixed(1)}`;
    });
    d += `L${W},${H}Z`;
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', d);
    p.setAttribute('class', cls);
    svg.append(p);
  };
  const base = document.createElementNS(ns, 'line');
  base.setAttribute('x1', 0);
  base.setAttribute('x2', W);
  base.setAttribute('y1', H - 0.5);
  base.setAttribute('y2', H - 0.5);
  base.setAttribute('class', 'axis');
  svg.append(base);
  area(totals, 'all');
  area(errors, 'errors');
  return svg;
}
const SLOTS_SHOWN = 150;

function stateCell(t) {
  const state = t.state;
  const cell = el('td', { className: 'state' },
    el('span', { className: 'badge ' + state }, el('span', { 'aria-hidden': 'true' }, (STATE_MARK[state] || '?') + ' '), state));
  if (t.draining) {
    const d = t.draining;
    const left = [];
    left.push(d.outstanding_requests + (d.outstanding_requests === 1 ? ' request' : ' requests'));
    left.push(d.tunnels + (d.tunnels === 1 ? ' tunnel' : ' tunnels'));
    const progress = el('progress', { max: d.deregistration_delay_seconds, value: Math.min(d.elapsed_seconds, d.deregistration_delay_seconds),
      'aria-label': `draining ${Math.round(d.elapsed_seconds)} of ${d.deregistration_delay_seconds} s` });
    cell.append(el('div', { className: 'drain' }, progress, el('br'),
      `${Math.round(d.elapsed_seconds)} of ${d.deregistration_delay_seconds} s; ${left.join(', ')} left`));
  }
  return cell;
}

/**
 * The reason of the last state change, and under it the latest check's when it says something
 * else: a target that went unhealthy on a timeout and now fails on its status, or one on its way back.
 */
function reasonCell(t, now) {
  const cell = el('td', { className: 'reason' }, t.reason);
  const c = t.last_check;
  if (c && c.reason !== t.reason) {
    const at = Date.parse(c.at);
    cell.append(el('div', { className: 'last-check' + (c.passed ? '' : ' failed') },
      `latest check ${c.passed ? 'passed' : 'failed'}: ${c.reason} `,
      el('time', { dateTime: c.at, title: new Date(at).toLocaleString() }, '(' + ago((now - at) / 1000) + ')')));
  }
  return cell;
}

function sinceCell(t, now) {
  const since = Date.parse(t.since);
  return el('td', {}, el('time', { dateTime: t.since, title: new Date(since).toLocaleString() }, ago((now - since) / 1000)));
}

function trafficCells(traffic, classes, sampleSeconds) {
  return [
    el('td', { className: 'num' }, traffic ? rate(traffic.requests_per_second) : '–'),
    el('td', { className: 'classes' }, byStatus(traffic, classes)),
    el('td', { className: 'num' }, millis(traffic && traffic.p50_ms)),
    el('td', { className: 'num' }, millis(traffic && traffic.p99_ms)),
    el('td', { className: 'spark' }, chart(traffic, classes, sampleSeconds)),
  ];
}

/** Replaces the cells of a keyed row, keeping the row (and its action button's focus) in place. */
function upsertRow(tbody, key, cells, keep) {
  let row = null;
  for (const r of tbody.rows) {
    if (r.dataset.key === key) {
      row = r;
      break;
    }
  }
  if (!row) {
    row = el('tr', { 'data-key': key });
    tbody.append(row);
  }
  keep.add(row);
  // A focused button is kept (with its focus) while the row would offer the same button again.
  const action = row.querySelector('td.actions');
  const fresh = cells.find((c) => c.classList.contains('actions'));
  const focused = action && action.contains(document.activeElement) && document.activeElement.tagName === 'BUTTON'
    && fresh && fresh.querySelector('button') !== null;
  while (row.cells.length > (focused ? 1 : 0)) {
    row.deleteCell(0);
  }
  for (const c of cells) {
    if (focused && c.classList.contains('actions')) {
      continue;
    }
    row.insertBefore(c, focused ? action : null);
  }
  return row;
}

function prune(tbody, keep) {
  for (const r of Array.from(tbody.rows)) {
    if (!keep.has(r)) {
      r.remove();
    }
  }
}

function renderListeners(o) {
  const tbody = $('listeners').tBodies[0];
  const keep = new Set();
  for (const l of o.listeners) {
    const routes = l.target_group ? l.target_group : 'default action';
    const cells = [
      el('th', { scope: 'row' }, l.name),
      el('td', {}, `${l.protocol}://${l.address}`),
      el('td', {}, routes + (l.rules ? ` (+${l.rules} ${l.rules === 1 ? 'rule' : 'rules'})` : '')),
      el('td', { className: 'num' }, String(l.open_connections)),
      ...trafficCells(l.traffic, o.status_classes, o.sample_seconds),
    ];
    upsertRow(tbody, l.name, cells, keep);
  }
  prune(tbody, keep);
}

function groupSection(name) {
  const id = 'group-' + name.replace(/[^A-Za-z0-9_-]/g, '_');
  let section = document.getElementById(id);
  if (section) {
    return section;
  }
  const titleId = id + '-title';
  const head = el('tr', {}, ...['Target', 'State', 'Reason', 'Since', 'Backend connections', 'WebSocket tunnels',
    'Engine.IO sessions', 'Requests/s', 'By status, per second', 'p50', 'p99', 'Last minutes', 'Actions']
    .map((h, i) => el('th', { scope: 'col', className: (i >= 4 && i <= 7) || i === 9 || i === 10 ? 'num' : '' }, h)));
  const form = el('form', { className: 'register', 'data-group': name },
    el('label', { htmlFor: id + '-address' }, 'Register a target in ' + name + ' '),
    el('input', { id: id + '-address', name: 'target', placeholder: 'host:port', required: true,
      autocomplete: 'off', spellcheck: false }),
    el('label', { htmlFor: id + '-weight' }, ' weight '),
    el('input', { id: id + '-weight', name: 'weight', type: 'number', min: 0, max: 999, value: 1, className: 'weight' }),
    ' ', el('button', { type: 'submit' }, 'Register'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    register(name, form.elements.target.value.trim(), Number(form.elements.weight.value), form);
  });
  section = el('section', { id, className: 'group', 'aria-labelledby': titleId },
    el('h2', { id: titleId }, 'Target group ' + name),
    el('p', { className: 'summary' }),
    el('div', { className: 'scroll' }, el('table', { className: 'targets' }, el('thead', {}, head), el('tbody'))),
    el('p', { className: 'unassigned' }),
    form);
  $('groups').append(section);
  return section;
}

function renderGroups(o, now) {
  const keep = new Set();
  for (const g of o.target_groups) {
    const section = groupSection(g.name);
    keep.add(section);
    const counts = {};
    g.targets.forEach((t) => { counts[t.state] = (counts[t.state] || 0) + 1; });
    const states = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ') || 'no targets';
    section.querySelector('.summary').textContent = [
      `${g.targets.length} ${g.targets.length === 1 ? 'target' : 'targets'}: ${states}`,
      g.fail_open ? 'FAILING OPEN (no healthy target: traffic goes to all)' : null,
      `algorithm ${g.algorithm}`, `stickiness ${g.stickiness}`,
      g.health_checks ? null : 'health checks off',
      `deregistration delay ${g.deregistration_delay_seconds} s`,
      g.engine_io_sessions ? `${g.engine_io_sessions} Engine.IO sessions` : null,
    ].filter((x) => x).join(' · ');
    section.classList.toggle('fail-open', g.fail_open);
    const un = g.unassigned;
    section.querySelector('.unassigned').textContent = un && un.requests_per_second > 0
      ? `Answered by Fulcrum without a target: ${rate(un.requests_per_second)}/s (${byStatus(un, o.status_classes)})` : '';
    const tbody = section.querySelector('tbody');
    const rows = new Set();
    for (const t of g.targets) {
      const action = el('td', { className: 'actions' });
      if (t.state !== 'draining') {
        action.append(el('button', { type: 'button', className: 'deregister', 'data-target': t.target,
          'aria-label': `Deregister ${t.target} from ${g.name}`,
          onclick: () => deregister(g.name, t.target, g.deregistration_delay_seconds) }, 'Deregister'));
      } else {
        action.append('draining');
      }
      const cells = [
        el('th', { scope: 'row' }, t.target + (t.weight !== 1 ? ` (weight ${t.weight})` : '')),
        stateCell(t),
        reasonCell(t, now),
        sinceCell(t, now),
        el('td', { className: 'num' }, String(t.open_connections)),
        el('td', { className: 'num' }, String(t.tunnels)),
        el('td', { className: 'num' }, String(t.engine_io_sessions)),
        ...trafficCells(t.traffic, o.status_classes, o.sample_seconds),
        action,
      ];
      const row = upsertRow(tbody, t.target, cells, rows);
      row.dataset.state = t.state;
    }
    prune(tbody, rows);
  }
  for (const s of Array.from($('groups').children)) {
    if (!keep.has(s)) {
      s.remove();
    }
  }
}

function renderChanges(o, now) {
  const tbody = $('changes').tBodies[0];
  tbody.replaceChildren(...o.state_changes.slice(0, 30).map((c) => {
    const when = Date.parse(c.time);
    const change = c.from ? `${c.from} → ${c.to}` : `registered (${c.to})`;
    return el('tr', {},
      el('td', {}, el('time', { dateTime: c.time, title: new Date(when).toLocaleString() },
        new Date(when).toLocaleTimeString() + ' (' + ago((now - when) / 1000) + ')')),
      el('td', {}, c.target_group), el('th', { scope: 'row' }, c.target), el('td', {}, change),
      el('td', {}, c.reason));
  }));
  if (o.state_changes.length === 0) {
    tbody.append(el('tr', {}, el('td', { colSpan: 5 }, 'No change since Fulcrum started.')));
  }
}

function render(o) {
  const now = Date.parse(o.time);
  renderListeners(o);
  renderGroups(o, now);
  renderChanges(o, now);
}

function say(text, isError) {
  const m = $('message');
  m.hidden = false;
  m.textContent = text;
  m.className = isError ? 'error' : 'ok';
}

/** Says how the page stands; only when that changes, so that screen readers are not told every poll. */
function status(text) {
  if ($('status').textContent !== text) {
    $('status').textContent = text;
  }
}

function showLogin(why) {
  $('live').hidden = true;
  $('token-bar').hidden = true;
  $('login').hidden = false;
  $('updated').textContent = '';
  status(why);
}

async function poll() {
  if (inFlight) {
    return;
  }
  inFlight = true;
  clearTimeout(timer);
  try {
    const r = await api('GET', 'overview');
    if (r.status === 401) {
      showLogin(token() ? 'The token was refused: give the right one.' : 'This admin API requires a token.');
      return; // no polling until a token is given
    }
    if (!r.ok) {
      throw new Error(`HTTP ${r.status}: ${(await r.text()).trim()}`);
    }
    const o = await r.json();
    $('login').hidden = true;
    $('live').hidden = false;
    $('token-bar').hidden = !token();
    document.body.classList.remove('stale');
    render(o);
    lastOk = new Date();
    status('Live: updated every ' + POLL_MS / 1000 + ' s.');
    $('updated').textContent = 'Last update ' + lastOk.toLocaleTimeString();
    timer = setTimeout(poll, POLL_MS);
  } catch (e) {
    document.body.classList.add('stale');
    status('Cannot reach the admin API (' + (e.message || e) + '); '
      + (lastOk ? 'showing data from ' + lastOk.toLocaleTimeString() + '; ' : '') + 'retrying.');
    timer = setTimeout(poll, POLL_MS);
  } finally {
    inFlight = false;
  }
}

async function answer(r) {
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    return { error: text.trim() };
  }
}

async function deregister(group, target, delay) {
  if (!window.confirm(`Deregister ${target} from ${group}? It drains: no new requests or sessions, `
      + `in-flight ones get up to ${delay} s, then it is removed.`)) {
    return;
  }
  try {
    const r = await api('DELETE', `target-groups/${encodeURIComponent(group)}/targets/${encodeURIComponent(target)}`);
    const body = await answer(r);
    if (r.ok) {
      say(`${target} deregistered from ${group}: ${body.state || 'draining'}.`, false);
    } else {
      say(`Could not deregister ${target}: ${body.error || 'HTTP ' + r.status}`, true);
    }
  } catch (e) {
    say(`Could not deregister ${target}: ${e.message || e}`, true);
  }
  poll();
}

async function register(group, target, weight, form) {
  try {
    const r = await api('POST', `target-groups/${encodeURIComponent(group)}/targets`, { target, weight });
    const body = await answer(r);
    if (r.ok) {
      say(`${body.target || target} registered in ${group}: ${body.state || 'initial'}.`, false);
      form.elements.target.value = '';
    } else {
      say(`Could not register ${target}: ${body.error || 'HTTP ' + r.status}`, true);
    }
  } catch (e) {
    say(`Could not register ${target}: ${e.message || e}`, true);
  }
  poll();
}

document.addEventListener('DOMContentLoaded', () => {
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value);
    $('token').value = '';
    status('Checking the token…');
    poll();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(timer);
    poll();
  });
  poll();
});
