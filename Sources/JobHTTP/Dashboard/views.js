// jobqueued dashboard: the pages (overview with its chart, jobs, one job,
// queues, schedules, workers). A plain script the daemon serves as is,
// loaded before app.js (index.html). It only defines window.jobqueuedViews:
// app.js calls it once with its API client and DOM helpers, and gets back
// one constructor per route name. Each constructor returns
// { root, title, refresh(signal), update?(params), resize?() }.
// As in app.js, data goes into the page through textContent or attributes,
// never as HTML.
'use strict';

window.jobqueuedViews = (core) => {
  const {
    STATES, h, s, renderIfChanged, panel, tableWrap, empty, stateClass, badge, link, code, dash,
    fmtInt, fmtDuration, timeAgo, timeFull, hhmm, jsonBlock, genericValue,
    api, all, runAction, actionButton, jobsHref, refresh, features,
  } = core;
  // Groups of the states (STATES, in app.js, has them all in lifecycle order).
  const CANCELLABLE = new Set(['blocked', 'scheduled', 'queued', 'running', 'retrying']);
  const RETRYABLE = new Set(['failed', 'cancelled']);
  const FINISHED = ['succeeded', 'failed', 'cancelled'];
  const WAITING = ['blocked', 'scheduled', 'queued', 'retrying'];

  // ---------------------------------------------------------------- overview

  function sumStates(queues, states) {
    return Object.values(queues).reduce((total, q) => total + states.reduce((n, st) => n + (Number(q[st]) || 0), 0), 0);
  }
  /** The state columns: the known ones, then any other count the daemon sends. */
  const stateColumns = (queues) => [...new Set([...STATES, ...Object.values(queues)
    .flatMap((q) => Object.keys(q).filter((key) => typeof q[key] === 'number' && key !== 'concurrency')).sort()])];
  function countCell(queue, state, n) {
    const value = Number(n) || 0;
    const content = value > 0 ? link(jobsHref({ queue, state }), fmtInt(value)) : h('span', { className: 'muted', text: '0' });
    return h('td', { className: `num count-${state}`, 'data-state-count': state, 'data-count': value }, content);
  }
  const pausedBadge = (paused) => h('span', { className: paused ? 'badge flag-paused' : 'badge flag-active', text: paused ? 'paused' : 'active' });
  function queueTable(queues) {
    const names = Object.keys(queues).sort();
    if (names.length === 0) return empty('No queues yet.');
    const columns = stateColumns(queues);
    const rows = names.map((name) => h('tr', { 'data-testid': 'queue-row', 'data-queue': name },
      h('th', { scope: 'row' }, link(jobsHref({ queue: name }), name)),
      columns.map((st) => countCell(name, st, queues[name][st])),
      h('td', { 'data-field': 'paused' }, pausedBadge(queues[name].paused)),
      h('td', { className: 'num', 'data-field': 'concurrency', text: queues[name].concurrency ?? '—' })));
    return tableWrap(['queue', ...columns, 'status', 'concurrency'], rows, { className: 'counts', id: 'queue-table' }, [...columns, 'concurrency']);
  }
  const card = (id, label, value, detail) => h('div', { className: 'card', id }, h('div', { className: 'card-label', text: label }),
    h('div', { className: 'card-value' }, value), detail ? h('div', { className: 'card-detail' }, detail) : null);
  function overviewCards(stats) {
    const queues = stats.queues || {};
    const busy = Number(stats.workers?.busy) || 0;
    const total = Number(stats.workers?.total) || 0;
    const meter = h('div', { className: 'meter' }, h('div', { className: 'meter-fill' }));
    meter.firstChild.style.width = `${total ? Math.min(100, (busy / total) * 100) : 0}%`;
    const failed = sumStates(queues, ['failed']);
    return [
      card('stat-workers', 'workers busy', `${fmtInt(busy)} / ${fmtInt(total)}`, meter),
      card('stat-running', 'running', fmtInt(sumStates(queues, ['running']))),
      card('stat-waiting', 'waiting', fmtInt(sumStates(queues, WAITING)), 'not started yet'),
      card('stat-failed', 'failed', failed ? link(jobsHref({ state: 'failed' }), fmtInt(failed)) : '0', 'kept for inspection'),
      card('stat-version', 'version', stats.version ?? '—'),
      card('stat-uptime', 'uptime', fmtDuration(Number(stats.uptime_ms))),
    ];
  }

  /** Round axis steps (1, 2, 5 × 10^n) with at most about four intervals. */
  function niceTicks(max) {
    if (max <= 0) return [0, 1];
    const raw = max / 4;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = Math.max(1, [1, 2, 5, 10].find((f) => f * power >= raw) * power);
    const ticks = [];
    for (let v = 0; v < max + step; v += step) ticks.push(v);
    return ticks;
  }
  /** Stacked bars of jobs finished per minute, drawn at the container's real width so text is not stretched. */
  function drawChart(box, minutes) {
    const width = Math.max(260, Math.floor(box.clientWidth || 600));
    const height = 200;
    const m = { top: 10, right: 6, bottom: 22, left: 38 };
    const iw = width - m.left - m.right;
    const ih = height - m.top - m.bottom;
    const totals = minutes.map((p) => FINISHED.reduce((n, k) => n + (Number(p[k]) || 0), 0));
    const ticks = niceTicks(Math.max(0, ...totals));
    const top = ticks[ticks.length - 1];
    const y = (v) => m.top + ih - (v / top) * ih;
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, className: 'chart-svg', 'aria-hidden': 'true' });
    for (const t of ticks) {
      svg.append(s('line', { className: 'grid', x1: m.left, x2: width - m.right, y1: y(t), y2: y(t) }),
        s('text', { className: 'axis', x: m.left - 6, y: y(t) + 4, 'text-anchor': 'end', text: fmtInt(t) }));
    }
    const slot = iw / Math.max(1, minutes.length);
    const barWidth = Math.max(1, slot * 0.72);
    minutes.forEach((p, i) => {
      const x = m.left + i * slot;
      const group = s('g', { className: i === minutes.length - 1 ? 'bar current' : 'bar', 'data-testid': 'chart-bar', 'data-at': p.at, 'data-total': totals[i] },
        s('title', { text: `${hhmm(p.at)}${i === minutes.length - 1 ? ' (this minute, so far)' : ''}: ${FINISHED.map((k) => `${fmtInt(p[k])} ${k}`).join(', ')}` }),
        s('rect', { className: 'hit', x, y: m.top, width: slot, height: ih }));
      let base = 0;
      for (const k of FINISHED) {
        const v = Number(p[k]) || 0;
        if (v <= 0) continue;
        group.append(s('rect', { className: `seg seg-${k}`, x: x + (slot - barWidth) / 2, y: y(base + v), width: barWidth, height: y(base) - y(base + v) }));
        base += v;
      }
      // A time label on every quarter hour, unless it would run off an edge.
      if (new Date(p.at).getMinutes() % 15 === 0 && x > m.left + 12 && x < width - 24) {
        svg.append(s('text', { className: 'axis', x: x + slot / 2, y: height - 6, 'text-anchor': 'middle', text: hhmm(p.at) }));
      }
      svg.append(group);
    });
    svg.append(s('line', { className: 'baseline', x1: m.left, x2: width - m.right, y1: y(0), y2: y(0) }));
    if (totals.every((n) => n === 0)) {
      svg.append(s('text', { className: 'chart-empty', x: m.left + iw / 2, y: m.top + ih / 2, 'text-anchor': 'middle', text: 'nothing finished in the last hour' }));
    }
    box.replaceChildren(svg);
  }
  function chartLegend(minutes) {
    const peak = Math.max(0, ...minutes.map((p) => FINISHED.reduce((n, k) => n + (Number(p[k]) || 0), 0)));
    return [
      ...FINISHED.map((k) => h('span', { className: 'legend-item', 'data-legend': k },
        h('span', { className: `swatch seg-${k}` }), `${k} `, h('strong', { text: fmtInt(minutes.reduce((n, p) => n + (Number(p[k]) || 0), 0)) }))),
      h('span', { className: 'legend-item muted', text: `peak ${fmtInt(peak)}/min` }),
    ];
  }
  function failureRows(jobs) {
    if (jobs.length === 0) return empty('No failed jobs.');
    return tableWrap(['id', 'handler', 'queue', 'finished', 'error'], jobs.map((job) => h('tr', {},
      h('td', {}, link(`#/jobs/${job.id}`, `#${job.id}`)), h('td', { text: job.handler }),
      h('td', { text: job.queue }), h('td', {}, timeAgo(job.finished_at)),
      h('td', { className: 'ellipsis', title: job.error?.message || '', text: job.error?.message || '' }))));
  }

  function overviewView() {
    const cards = h('div', { className: 'cards' });
    const chart = h('div', { id: 'chart', className: 'chart', role: 'img', 'aria-label': 'Jobs finished per minute over the last hour' });
    const legend = h('div', { className: 'legend', id: 'chart-legend' });
    const queues = h('div', { id: 'overview-queues' });
    const failures = h('div', { id: 'recent-failures' });
    let minutes = null;
    let drawn = ''; // the data and width the chart was last drawn for
    const draw = (force) => {
      const signature = `${chart.clientWidth} ${JSON.stringify(minutes)}`;
      if (force || signature !== drawn) drawChart(chart, minutes);
      drawn = signature;
    };
    const root = h('div', {}, h('h1', { text: 'Overview' }), cards,
      panel('Jobs finished per minute · last hour', chart, legend), panel('Queues', queues),
      panel('Recent failures', failures));
    return {
      root, title: 'Overview',
      resize() { if (minutes) draw(true); },
      refresh: (signal) => all([
        ['/stats', (stats) => {
          cards.replaceChildren(...overviewCards(stats));
          renderIfChanged(queues, stats.queues || {}, queueTable);
        }],
        ['/throughput', (answer) => {
          minutes = answer.minutes || [];
          draw(false);
          renderIfChanged(legend, minutes, chartLegend);
        }],
        ['/jobs?state=failed&order=newest&limit=5', (answer) => renderIfChanged(failures, answer.jobs || [], failureRows)],
      ], signal),
    };
  }

  // -------------------------------------------------------------------- jobs

  function jobsView(route) {
    const field = (label, control) => h('label', { className: 'field-control' }, h('span', { text: label }), control);
    const text = (id, placeholder) => h('input', { id, type: 'search', placeholder, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' });
    const state = h('select', { id: 'filter-state' }, h('option', { value: '', text: 'any state' }), STATES.map((st) => h('option', { value: st, text: st })));
    const queue = text('filter-queue', 'any queue');
    const handler = text('filter-handler', 'any handler');
    const tag = text('filter-tag', 'any tag');
    const order = h('select', { id: 'filter-order' }, h('option', { value: 'newest', text: 'newest first' }), h('option', { value: 'id', text: 'by id (oldest first)' }));
    const limit = h('select', { id: 'filter-limit' }, [25, 50, 100, 200].map((n) => h('option', { value: n, text: `${n} a page` })));
    const clear = h('button', { type: 'button', className: 'btn btn-quiet', id: 'filter-clear', text: 'Clear' });
    const form = h('form', { className: 'filters', id: 'job-filters', role: 'search' },
      field('State', state), field('Queue', queue), field('Handler', handler), field('Tag', tag), field('Order', order), field('Page size', limit),
      h('div', { className: 'filter-buttons' }, h('button', { type: 'submit', className: 'btn', text: 'Apply' }), clear));
    const prev = h('button', { type: 'button', className: 'btn', id: 'page-prev', text: '‹ Prev' });
    const next = h('button', { type: 'button', className: 'btn', id: 'page-next', text: 'Next ›' });
    const summary = h('span', { className: 'muted', id: 'jobs-summary' });
    const list = h('div', { id: 'job-list' });
    const root = h('div', {}, h('h1', { text: 'Jobs' }), form, panel(null, h('div', { className: 'pager' }, summary, h('span', { className: 'pager-buttons' }, prev, next)), list));

    let params = {};
    let earlier = []; // the cursors of the pages before this one, for Prev
    let nextCursor = null;
    let pagerMove = false;

    const cursorKey = () => (params.order === 'id' ? 'after_id' : 'before_id');
    function go(newParams, fromPager) {
      const hash = jobsHref(newParams);
      pagerMove = fromPager;
      if (location.hash === hash) refresh(); else location.hash = hash;
    }
    function fromControls() {
      return { state: state.value, queue: queue.value.trim(), handler: handler.value.trim(), tag: tag.value.trim(),
        order: order.value === 'id' ? 'id' : '', limit: limit.value === '50' ? '' : limit.value };
    }
    form.addEventListener('submit', (event) => { event.preventDefault(); go(fromControls(), false); });
    form.addEventListener('change', () => go(fromControls(), false)); // selects at once; text fields on Enter or leaving them
    clear.addEventListener('click', () => go({}, false));
    next.addEventListener('click', () => {
      if (nextCursor === null) return;
      earlier.push(params[cursorKey()] || '');
      go({ ...params, [cursorKey()]: nextCursor }, true);
    });
    prev.addEventListener('click', () => go({ ...params, [cursorKey()]: earlier.pop() || '' }, true));

    function update(p) {
      if (!pagerMove) earlier = [];
      pagerMove = false;
      params = {};
      for (const key of ['state', 'queue', 'handler', 'tag', 'order', 'limit', 'after_id', 'before_id']) params[key] = p.get(key) || '';
      if (params.order !== 'id') { params.order = ''; params.after_id = ''; } else params.before_id = '';
      state.value = params.state; queue.value = params.queue; handler.value = params.handler; tag.value = params.tag;
      order.value = params.order === 'id' ? 'id' : 'newest';
      limit.value = ['25', '100', '200'].includes(params.limit) ? params.limit : '50';
    }
    function row(job) {
      const open = () => { location.hash = `#/jobs/${job.id}`; };
      const tr = h('tr', { 'data-testid': 'job-row', 'data-job-id': job.id, 'data-state': job.state, className: 'clickable' },
        h('td', {}, link(`#/jobs/${job.id}`, `#${job.id}`)), h('td', {}, badge(job.state)),
        h('td', { text: job.queue }), h('td', { text: job.handler }),
        h('td', { text: `${job.attempts}/${job.max_attempts}` }),
        h('td', {}, (job.tags || []).map((t) => h('span', { className: 'chip', text: t }))),
        h('td', {}, timeAgo(job.created_at)),
        h('td', {}, timeAgo(job.finished_at || job.started_at || job.run_at)),
        h('td', { className: 'ellipsis', title: job.error?.message || '', text: job.error?.message || '' }));
      // The whole row opens the job; the id is a real link for keyboards and new tabs.
      tr.addEventListener('click', (event) => { if (!event.target.closest('a') && !String(window.getSelection())) open(); });
      return tr;
    }
    update(route.params);
    return {
      root, title: 'Jobs', update,
      async refresh(signal) {
        const query = new URLSearchParams();
        for (const key of ['state', 'queue', 'handler', 'tag']) if (params[key]) query.set(key, params[key]);
        query.set('limit', params.limit || '50');
        if (params.order === 'id') { if (params.after_id) query.set('after_id', params.after_id); } else {
          query.set('order', 'newest');
          if (params.before_id) query.set('before_id', params.before_id);
        }
        const answer = await api(`/jobs?${query}`, { signal });
        if (signal.aborted) return;
        const jobs = answer.jobs || [];
        nextCursor = (params.order === 'id' ? answer.next_after_id : answer.next_before_id) ?? null;
        next.disabled = nextCursor === null;
        prev.disabled = !params[cursorKey()];
        // The page number is known only when this page was reached with Next from the first.
        const page = !params[cursorKey()] || earlier.length ? ` · page ${earlier.length + 1}` : '';
        summary.textContent = jobs.length === 0 ? 'no jobs' : `${jobs.length} job${jobs.length === 1 ? '' : 's'}, ids ${jobs[0].id}–${jobs[jobs.length - 1].id}${page}`;
        renderIfChanged(list, jobs, () => (jobs.length === 0 ? empty('No jobs match these filters.')
          : tableWrap(['id', 'state', 'queue', 'handler', 'attempts', 'tags', 'created', 'last change', 'error'], jobs.map(row), { className: 'jobs', id: 'job-table' })));
      },
    };
  }

  // --------------------------------------------------------------------- job

  // Fields of the job object in the order an operator reads them; any other
  // field the daemon sends is shown after these, as it comes.
  const FIELD_ORDER = ['id', 'state', 'queue', 'handler', 'priority', 'attempts', 'max_attempts', 'tags', 'unique_key', 'schedule',
    'after', 'blocked_on', 'concurrency_key', 'created_at', 'run_at', 'started_at', 'finished_at', 'timeout_ms', 'result_truncated'];
  const OWN_SECTIONS = new Set(['payload', 'result', 'error', 'errors', 'progress', 'lease', 'worker', 'lease_expires_at']);

  function fieldValue(key, value) {
    if (value === null || value === undefined) return dash();
    switch (key) {
      case 'state': return badge(value);
      case 'queue': return link(jobsHref({ queue: value }), value);
      case 'handler': return link(jobsHref({ handler: value }), value);
      case 'tags': return value.length ? value.map((t) => link(jobsHref({ tag: t }), t, { className: 'chip' })) : dash();
      case 'schedule': return link('#/schedules', value);
      case 'after': case 'blocked_on': return Array.isArray(value) && value.length ? value.map((id) => link(`#/jobs/${id}`, `#${id}`, { className: 'chip' })) : genericValue(value);
      case 'unique_key': case 'concurrency_key': return code(String(value));
      case 'timeout_ms': return `${fmtInt(value)} ms (${fmtDuration(Number(value))})`;
      default:
        if (/_at$/.test(key) && typeof value === 'string') return timeFull(value);
        return genericValue(value);
    }
  }
  function fieldList(job) {
    const keys = [...FIELD_ORDER.filter((k) => k in job), ...Object.keys(job).filter((k) => !FIELD_ORDER.includes(k) && !OWN_SECTIONS.has(k))];
    return h('dl', { className: 'fields', id: 'job-fields' }, keys.map((key) => h('div', { className: 'field', 'data-field': key },
      h('dt', { text: key }), h('dd', {}, fieldValue(key, job[key])))));
  }
  function failureEntry(failure, label, open) {
    const facts = [failure.exit_code !== null && failure.exit_code !== undefined ? `exit ${failure.exit_code}` : null,
      failure.signal !== null && failure.signal !== undefined ? `signal ${failure.signal}` : null].filter(Boolean).join(' · ');
    return h('li', { className: 'failure', 'data-testid': 'error-entry' },
      h('div', { className: 'failure-head' }, label ? h('span', { className: 'muted', text: label }) : null,
        h('strong', { className: 'failure-message', text: failure.message ?? '' }), facts ? h('span', { className: 'muted', text: facts }) : null,
        failure.at ? timeFull(failure.at) : null),
      failure.stderr ? h('details', { open }, h('summary', { text: 'stderr' }), h('pre', { className: 'stderr', text: failure.stderr })) : null,
      failure.details !== undefined ? h('details', {}, h('summary', { text: 'details' }), jsonBlock(failure.details)) : null);
  }
  function summaryLine(job) {
    const parts = [`${job.handler} on ${job.queue}`, `attempt ${job.attempts ?? 0} of ${job.max_attempts ?? '?'}`];
    const started = Date.parse(job.started_at);
    const finished = Date.parse(job.finished_at);
    if (!Number.isNaN(started) && !Number.isNaN(finished) && finished >= started) parts.push(`last attempt took ${fmtDuration(finished - started)}`);
    else if (job.state === 'running' && !Number.isNaN(started)) parts.push(`running for ${fmtDuration(Date.now() - started)}`);
    return parts.join(' · ');
  }
  /** Worker and lease: the `lease` object of WORKERS.md, or flat fields from another daemon version. */
  function leaseSection(job) {
    const lease = job.lease && typeof job.lease === 'object' ? job.lease : {};
    const worker = lease.worker ?? job.worker;
    const expires = lease.expires_at ?? job.lease_expires_at;
    const rows = [];
    if (worker !== undefined) rows.push(['worker', worker === null ? dash() : code(String(worker))]);
    if (expires !== undefined) rows.push(['lease expires', timeFull(expires)]);
    for (const [key, value] of Object.entries(lease)) if (!['worker', 'expires_at'].includes(key)) rows.push([`lease.${key}`, genericValue(value)]);
    if ('progress' in job) rows.push(['progress', genericValue(job.progress)]);
    if (rows.length === 0) return null;
    return panel('Worker, lease and progress', h('dl', { className: 'fields', id: 'job-lease' },
      rows.map(([label, value]) => h('div', { className: 'field' }, h('dt', { text: label }), h('dd', {}, value)))));
  }
  function jobSections(job) {
    const history = job.errors || [];
    // Two columns on a wide screen: what the job is, beside what it carried and produced.
    return [h('div', { className: 'job-col' }, panel('Fields', fieldList(job))), h('div', { className: 'job-col' }, leaseSection(job),
      panel('Payload', jsonBlock(job.payload ?? null, { id: 'job-payload' })),
      panel(job.result_truncated ? 'Result (truncated)' : 'Result', job.result === null || job.result === undefined
        ? empty(job.finished_at ? 'No result.' : 'No result yet.') : jsonBlock(job.result, { id: 'job-result' }, true)),
      job.error ? panel('Last error', h('ul', { className: 'failures', id: 'job-error' }, failureEntry(job.error, null, true))) : null,
      panel(`Error history (${history.length})`, history.length === 0 ? empty('No failed attempts.')
        : h('ol', { className: 'failures', id: 'job-errors' }, history.map((f, i) => failureEntry(f, `#${i + 1}`)))),
      h('details', { className: 'panel raw' }, h('summary', { text: 'The job object as JSON' }), jsonBlock(job)))];
  }

  function jobView(route) {
    const id = route.id;
    // #job-state and the action buttons stay the same elements across polls,
    // so what a user (or a test) holds on to does not go stale.
    const state = h('span', { id: 'job-state', className: 'badge', role: 'status', 'aria-live': 'polite', hidden: true });
    const summary = h('p', { className: 'muted', id: 'job-summary' });
    const notice = h('p', { className: 'notice', id: 'action-notice', role: 'status', hidden: true });
    const actions = h('div', { className: 'actions' });
    const body = h('div', { id: 'job-body', className: 'job-body' });
    let lastState = null;
    let lastAction = null; // what the notice reports: the action, its time, and the state since
    const act = (kind) => async (button) => {
      const job = await runAction(button, () => api(`/jobs/${id}/${kind}`, { method: 'POST' }));
      if (!job) return;
      lastAction = `${kind === 'retry' ? 'Retried' : 'Cancelled'} at ${new Date().toLocaleTimeString()}`;
      render(job);
      refresh();
    };
    const retry = actionButton('Retry', { id: 'action-retry', className: 'btn btn-primary' }, act('retry'));
    const cancel = actionButton('Cancel job', { id: 'action-cancel', className: 'btn btn-danger' }, act('cancel'));
    function render(job) {
      if (job.state !== lastState) {
        lastState = job.state;
        state.textContent = job.state;
        state.hidden = false;
        state.dataset.state = job.state;
        state.className = `badge badge-large ${stateClass(job.state)}`;
        actions.replaceChildren(...[CANCELLABLE.has(job.state) ? cancel : null, RETRYABLE.has(job.state) ? retry : null].filter(Boolean));
      }
      summary.textContent = summaryLine(job);
      notice.hidden = !lastAction;
      if (lastAction) notice.textContent = `${lastAction}; the job is now ${job.state}.`;
      renderIfChanged(body, job, jobSections);
    }
    const root = h('div', {}, h('div', { className: 'job-head' }, h('h1', {}, `Job #${id} `, state), actions), summary, notice, body);
    return {
      root, title: `Job #${id}`,
      async refresh(signal) {
        const job = await api(`/jobs/${encodeURIComponent(id)}`, { signal });
        if (!signal.aborted) render(job);
      },
    };
  }

  // ------------------------------------------------------------------ queues

  function queuesView() {
    const box = h('div', { id: 'queues' });
    let latest = {};
    const toggle = (name, paused) => actionButton(paused ? 'Resume' : 'Pause',
      { 'data-testid': 'queue-toggle', 'data-queue': name, 'data-action': paused ? 'resume' : 'pause', className: paused ? 'btn btn-primary' : 'btn' },
      async (button) => {
        const answer = await runAction(button, () => api(`/queues/${encodeURIComponent(name)}/${paused ? 'resume' : 'pause'}`, { method: 'POST' }));
        if (!answer) return;
        latest = { ...latest, [name]: { ...latest[name], paused: answer.paused } };
        renderIfChanged(box, latest, table);
        refresh();
      });
    const table = (queues) => {
      const names = Object.keys(queues).sort();
      if (names.length === 0) return empty('No queues yet.');
      const shown = ['queued', 'running', 'retrying', 'failed'];
      return tableWrap(['queue', 'status', 'concurrency', ...shown, ''], names.map((name) => h('tr', { 'data-testid': 'queue-row', 'data-queue': name },
        h('th', { scope: 'row' }, link(jobsHref({ queue: name }), name)), h('td', {}, pausedBadge(queues[name].paused)),
        h('td', { className: 'num', text: queues[name].concurrency ?? '—' }), shown.map((st) => countCell(name, st, queues[name][st])),
        h('td', { className: 'cell-actions' }, toggle(name, Boolean(queues[name].paused))))), { id: 'queue-table' }, ['concurrency', ...shown]);
    };
    const root = h('div', {}, h('h1', { text: 'Queues' }),
      h('p', { className: 'hint', text: 'A paused queue keeps accepting jobs and starts none; running jobs finish. A pause survives a restart of the daemon.' }),
      panel(null, box));
    return {
      root, title: 'Queues',
      async refresh(signal) {
        const stats = await api('/stats', { signal });
        if (signal.aborted) return;
        latest = stats.queues || {};
        renderIfChanged(box, latest, table);
      },
    };
  }

  // --------------------------------------------------------------- schedules

  const notServed = (feature) => (features() && !features().has(feature) ? empty(`This daemon does not serve ${feature} (ping does not list "${feature}").`) : null);

  function schedulesView() {
    const box = h('div', { id: 'schedules' });
    const notice = h('p', { className: 'notice', id: 'schedule-notice', role: 'status', hidden: true });
    const call = (name, action) => async (button) => {
      const answer = await runAction(button, () => api(`/schedules/${encodeURIComponent(name)}/${action}`, { method: 'POST' }));
      if (!answer) return;
      if (action === 'trigger') {
        notice.replaceChildren(`Schedule ${name}: `, link(`#/jobs/${answer.id}`, `job #${answer.id}`), ' enqueued.');
        notice.hidden = false;
      }
      refresh();
    };
    const table = (list) => (list.length === 0 ? empty('No schedules are configured.')
      : tableWrap(['name', 'when', 'zone', 'handler', 'queue', 'next run', 'last run', 'last job', 'skipped', 'status', ''],
        list.map((entry) => h('tr', { 'data-testid': 'schedule-row', 'data-schedule': entry.name },
          h('th', { scope: 'row', text: entry.name }),
          h('td', {}, entry.cron !== undefined ? code(entry.cron) : entry.every !== undefined ? `every ${entry.every}` : dash()),
          h('td', { text: entry.timezone ?? 'local' }), h('td', { text: entry.handler ?? '' }),
          h('td', {}, entry.queue ? link(jobsHref({ queue: entry.queue }), entry.queue) : dash()),
          h('td', {}, timeAgo(entry.next_run_at)), h('td', {}, timeAgo(entry.last_run_at ?? entry.last_tick)),
          h('td', {}, entry.last_job_id ? link(`#/jobs/${entry.last_job_id}`, `#${entry.last_job_id}`) : dash()),
          h('td', { className: 'num', text: fmtInt(entry.skipped) }), h('td', {}, pausedBadge(Boolean(entry.paused))),
          h('td', { className: 'cell-actions' },
            actionButton(entry.paused ? 'Resume' : 'Pause', { 'data-action': entry.paused ? 'resume' : 'pause', 'data-schedule': entry.name }, call(entry.name, entry.paused ? 'resume' : 'pause')),
            actionButton('Run now', { 'data-action': 'trigger', 'data-schedule': entry.name }, call(entry.name, 'trigger'))))),
        { id: 'schedule-table' }, ['skipped']));
    return {
      root: h('div', {}, h('h1', { text: 'Schedules' }), notServed('schedules'), notice, panel(null, box)), title: 'Schedules',
      async refresh(signal) {
        const answer = await api('/schedules', { signal });
        if (!signal.aborted) renderIfChanged(box, answer.schedules || [], table);
      },
    };
  }

  // ----------------------------------------------------------------- workers

  function workersView() {
    const daemon = h('div', { className: 'cards', id: 'worker-cards' });
    const external = h('div', { id: 'workers' });
    const workerTable = (list) => (list.length === 0 ? empty('No external worker is connected.')
      : tableWrap(['name', 'pid', 'uid', 'gid', 'jobs held', 'last heartbeat', 'connected'], list.map((w) => h('tr', { 'data-testid': 'worker-row' },
        h('th', { scope: 'row' }, w.name ? code(w.name) : dash()), h('td', { className: 'num', text: w.pid ?? '' }),
        h('td', { className: 'num', text: w.uid ?? '' }), h('td', { className: 'num', text: w.gid ?? '' }),
        h('td', { className: 'num', text: fmtInt(w.jobs_held) }), h('td', {}, timeAgo(w.last_heartbeat_at)), h('td', {}, timeAgo(w.connected_at)))), {}, ['pid', 'uid', 'gid', 'jobs held']));
    return {
      root: h('div', {}, h('h1', { text: 'Workers' }), notServed('workers'), daemon, panel('External workers', external)),
      title: 'Workers',
      refresh: (signal) => all([
        ['/stats', (stats) => daemon.replaceChildren(overviewCards(stats)[0])],
        ['/workers', (answer) => renderIfChanged(external, answer.workers || [], workerTable)],
      ], signal),
    };
  }

  const notFoundView = () => ({ root: h('div', {}, h('h1', { text: 'No such page' }), h('p', {}, link('#/', 'Back to the overview'))),
    title: 'Not found', refresh: async () => {} });

  return { overview: overviewView, jobs: jobsView, job: jobView, queues: queuesView, schedules: schedulesView, workers: workersView, notfound: notFoundView };
};
