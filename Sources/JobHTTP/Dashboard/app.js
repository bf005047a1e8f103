// jobqueued dashboard: a client of the daemon's JSON API under /api/v1/.
// No framework and no build step: the daemon serves this file as is. Every
// piece of data goes into the page through textContent or attributes, never
// as HTML, because payloads, results and error messages are user data.
//
// Two plain scripts, loaded with defer in this order by index.html: views.js
// (the pages) and then this file (the API client, the DOM helpers, the error
// banner, the routing and the polling). views.js only defines
// window.jobqueuedViews; this file calls it once with its helpers.
'use strict';

(() => {
  const POLL_MS = 2000;
  const REQUEST_TIMEOUT_MS = 10000;
  // The states of PROTOCOL.md and SCHEDULING.md in lifecycle order; the
  // daemon may send others (protocol rule), which are shown as they come.
  const STATES = ['blocked', 'scheduled', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'];
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || '';

  // ---------------------------------------------------------------- DOM helpers

  /** An element with attributes ("text" sets textContent; null and false leave one out) and children. */
  const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  /** The same for SVG, which needs its namespace. */
  const s = (tag, attrs, ...children) => build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
  function build(node, attrs, children) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else node.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
    }
    // append() turns strings into text nodes: never parsed as markup.
    for (const child of children.flat(Infinity)) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  // A container is rebuilt only when its data changed, so polling every 2 s
  // does not reset a scroll position, an open <details> or a text selection.
  const signatures = new WeakMap();
  function renderIfChanged(container, data, render) {
    const signature = JSON.stringify(data);
    if (signatures.get(container) === signature) return;
    signatures.set(container, signature);
    container.replaceChildren(...[render(data)].flat().filter(Boolean));
  }

  const panel = (title, ...children) => h('section', { className: 'panel' }, title ? h('h2', { text: title }) : null, ...children);
  /** A table in a box that scrolls sideways on a narrow screen; `numeric` names the right-aligned columns. */
  function tableWrap(head, rows, attrs, numeric = []) {
    const th = (label) => h('th', { scope: 'col', className: numeric.includes(label) ? 'num' : null, text: label });
    return h('div', { className: 'table-wrap' },
      h('table', attrs, h('thead', {}, h('tr', {}, head.map(th))),
        h('tbody', {}, rows)));
  }
  const empty = (text) => h('p', { className: 'empty', text });
  const stateClass = (state) => `state-${STATES.includes(state) ? state : 'other'}`;
  const badge = (state) => h('span', { className: `badge ${stateClass(state)}`, 'data-state': state, text: state });
  const link = (href, text, attrs) => h('a', { href, ...attrs }, text);
  const code = (text) => h('code', { text });
  const dash = () => h('span', { className: 'muted', text: '—' });

  // ----------------------------------------------------------------- formatting

  /** 1234567 as "1,234,567", the same in every locale (the browser test reads it). */
  const fmtInt = (n) => String(Math.trunc(Number(n) || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  /** 850 ms, 2.50 s, 4m 5s, 2h 10m, 3d 4h: two units at most, as an operator reads them. */
  function fmtDuration(ms) {
    if (!Number.isFinite(ms)) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
    const parts = [];
    let rest = ms;
    for (const [unit, size] of [['d', 86400000], ['h', 3600000], ['m', 60000], ['s', 1000]]) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      if (n || parts.length) parts.push(n ? `${n}${unit}` : '');
    }
    return parts.slice(0, 2).filter(Boolean).join(' ');
  }
  /** "12s ago", "5m ago", "2h 10m ago", "in 3m", like jobctl's ages. */
  function relative(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const diff = Date.now() - t;
    const a = Math.abs(diff);
    if (a < 1000) return 'just now';
    const text = a < 60000 ? `${Math.floor(a / 1000)}s` : a < 3600000 ? `${Math.floor(a / 60000)}m` : fmtDuration(a);
    return diff >= 0 ? `${text} ago` : `in ${text}`;
  }
  /** A time shown relative ("3m ago"); kept current by refreshTimes(). */
  const timeAgo = (iso) => (iso ? h('time', { datetime: iso, 'data-relative': '', title: new Date(iso).toLocaleString(), text: relative(iso) }) : dash());
  /** A time as the daemon sent it (UTC, RFC 3339), with the relative time beside it. */
  const timeFull = (iso) => (iso ? h('span', { className: 'time-full' }, code(iso), ' ', timeAgo(iso)) : dash());
  function refreshTimes() {
    for (const node of document.querySelectorAll('time[data-relative]')) node.textContent = relative(node.dateTime);
  }
  const hhmm = (iso) => new Date(iso).toTimeString().slice(0, 5); // local "10:05"
  /** JSON pretty-printed in a <pre>; with rawString, a string as its own text (a result may be plain output). */
  function jsonBlock(value, attrs, rawString) {
    const raw = rawString && typeof value === 'string';
    return h('pre', { className: raw ? 'json json-string' : 'json', ...attrs, text: raw ? value : JSON.stringify(value, null, 2) });
  }
  /** Any field value: primitives inline, objects and arrays as JSON. */
  function genericValue(value) {
    if (value === null || value === undefined) return dash();
    if (typeof value === 'object') return jsonBlock(value);
    return h('span', { text: String(value) });
  }

  // ------------------------------------------------------------------- the API

  class ApiError extends Error {}
  class Aborted extends Error {}

  /** One call of the API; throws ApiError with the daemon's message, or Aborted. */
  async function api(path, { method = 'GET', signal } = {}) {
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timer = setTimeout(abort, REQUEST_TIMEOUT_MS);
    signal?.addEventListener('abort', abort);
    const init = { method, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' }, signal: controller.signal };
    if (method === 'POST') {
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRF-Token'] = csrfToken;
      init.body = '{}';
    }
    let response, text;
    try {
      response = await fetch(`/api/v1${path}`, init);
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw new Aborted();
      if (controller.signal.aborted) throw new ApiError(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
      throw new ApiError(`cannot reach the daemon (${error.message})`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    }
    let body = null;
    try { body = JSON.parse(text); } catch { /* not JSON: said below */ }
    if (!response.ok) {
      const message = body?.error?.message || `${method} ${path}: HTTP ${response.status} ${response.statusText}`;
      const hint = response.status === 401 ? ' — open the URL that `jobctl dashboard` prints to log in again' : '';
      throw new ApiError(message + hint);
    }
    if (body === null || typeof body !== 'object') throw new ApiError(`${method} ${path}: the answer is not JSON`);
    return body;
  }

  /** Runs several calls at once, renders what came, then reports the first failure. */
  async function all(calls, signal) {
    const results = await Promise.allSettled(calls.map(([path]) => api(path, { signal })));
    if (signal.aborted) throw new Aborted();
    let failure = null;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') calls[i][1](result.value);
      else failure = failure || result.reason;
    });
    if (failure) throw failure;
  }

  // ------------------------------------------------------ error banner, status

  const bannerEl = document.getElementById('error-banner');
  const bannerText = document.getElementById('error-message');
  const liveEl = document.getElementById('live-status');
  let bannerSource = null; // 'poll' clears itself on the next good poll; 'action' stays until dismissed

  function showError(message, source) {
    [bannerSource, bannerText.textContent, bannerEl.hidden] = [source, message, false];
  }
  function clearError(source) {
    if (!source || bannerSource === source) [bannerSource, bannerEl.hidden] = [null, true];
  }
  document.getElementById('error-dismiss').addEventListener('click', () => clearError());

  const setLive = (state, text) => { [liveEl.dataset.live, liveEl.textContent] = [state, text]; };

  /** A POST from a button: disabled while it runs, its error in the banner. */
  async function runAction(button, call) {
    button.disabled = true;
    clearError('action');
    try {
      return await call();
    } catch (error) {
      showError(error.message, 'action');
      return null;
    } finally {
      button.disabled = false;
    }
  }
  function actionButton(label, attrs, onClick) {
    const button = h('button', { type: 'button', className: 'btn', ...attrs, text: label });
    button.addEventListener('click', () => onClick(button));
    return button;
  }

  // --------------------------------------------------------------- the routes

  function parseRoute() {
    const raw = location.hash.replace(/^#/, '') || '/';
    const mark = raw.indexOf('?');
    const path = mark < 0 ? raw : raw.slice(0, mark);
    const params = new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1));
    const parts = path.split('/').filter(Boolean);
    if (parts.length === 0) return { name: 'overview', params };
    if (parts[0] === 'jobs' && parts.length === 2 && /^\d+$/.test(parts[1])) return { name: 'job', id: parts[1], params };
    if (parts.length === 1 && ['jobs', 'queues', 'schedules', 'workers'].includes(parts[0])) return { name: parts[0], params };
    return { name: 'notfound', params };
  }
  function hashFor(path, params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== '' && value !== null && value !== undefined) query.set(key, value);
    const text = query.toString();
    return `#${path}${text ? `?${text}` : ''}`;
  }
  const jobsHref = (params) => hashFor('/jobs', params);

  // --------------------------------------------------------- the controller

  const viewRoot = document.getElementById('view');
  let features = null; // from ping; null until it answered
  let active = null; // { key, view }
  let inFlight = null; // the AbortController of the refresh under way
  let timer = null;

  // The pages, from views.js: one constructor per route name.
  if (typeof window.jobqueuedViews !== 'function') {
    showError('The dashboard did not load completely (/assets/views.js is missing): reload the page.', 'action');
    setLive('error', 'not loaded');
    return;
  }
  const VIEWS = window.jobqueuedViews({
    STATES, h, s, renderIfChanged, panel, tableWrap, empty, stateClass, badge, link, code, dash,
    fmtInt, fmtDuration, timeAgo, timeFull, hhmm, jsonBlock, genericValue,
    api, all, runAction, actionButton, jobsHref, refresh,
    features: () => features, // null until ping answered, then the Set of what it lists
  });

  async function loadPing() {
    const ping = await api('/ping');
    features = new Set(ping.features || []);
    for (const name of ['schedules', 'workers']) document.querySelector(`[data-nav="${name}"]`).hidden = !features.has(name);
    document.getElementById('daemon-version').textContent = ping.version ? `v${ping.version}` : '';
  }

  function route() {
    const r = parseRoute();
    const section = r.name === 'job' ? 'jobs' : r.name;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === section) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    const key = `${r.name}/${r.id || ''}`;
    if (active && active.key === key && active.view.update) {
      active.view.update(r.params);
    } else {
      clearError();
      const view = VIEWS[r.name](r);
      active = { key, view };
      viewRoot.replaceChildren(view.root);
      document.title = `${view.title} · jobqueued`;
      window.scrollTo(0, 0);
    }
    refresh();
  }

  /** Loads the current view now; a newer call supersedes (aborts) an older one. */
  async function refresh() {
    if (!active) return;
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    try {
      if (!features) await loadPing().catch(() => {}); // nav extras wait for ping; the view need not
      await active.view.refresh(controller.signal);
      if (controller.signal.aborted) return;
      clearError('poll');
      setLive('ok', `live · ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (error instanceof Aborted || controller.signal.aborted) return;
      showError(error.message, 'poll');
      setLive('error', 'not updating');
    } finally {
      if (inFlight === controller) inFlight = null;
      refreshTimes();
    }
  }

  function startPolling() {
    clearInterval(timer);
    // A tick while a request is still out is skipped, not queued.
    timer = setInterval(() => { if (!inFlight && !document.hidden) refresh(); }, POLL_MS);
  }
  // No polling while the tab is hidden; back at once when it shows again.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      clearInterval(timer);
      setLive('paused', 'paused while hidden');
    } else {
      refresh();
      startPolling();
    }
  });
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => active?.view.resize?.(), 150);
  });
  window.addEventListener('hashchange', route);

  route();
  if (!document.hidden) startPolling();
})();
