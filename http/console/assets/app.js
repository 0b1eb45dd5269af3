// Chronicle's web console. It calls the public APIs only (/goscheduler/...,
// /cluster, /events) with the token the user gives it, so what it shows
// and what it may change are what that token may. Everything shown is
// built with DOM calls and text nodes, never parsed as HTML: payloads,
// URLs and error messages are user data.

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const notice = document.getElementById('notice');
const sessionBox = document.getElementById('session');

// ---------- DOM helpers ----------

// h builds an element: attributes (on* become listeners), then children
// (strings become text nodes; null, undefined and false are left out).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const pad = (n) => String(n).padStart(2, '0');

// utc formats unix seconds (or, ms true, milliseconds) as UTC.
function utc(t, ms = false) {
  if (!t) return '';
  const d = new Date(ms ? t : t * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

// apiTime is what the API's start_time and end_time take (UTC).
const apiTime = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
  `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;

// localInput is a datetime-local input's value for d, read as UTC.
const localInput = (d) => apiTime(d).replace(' ', 'T');
const fromLocalInput = (v) => (v ? new Date(v + 'Z') : null);

const STATUSES = ['SCHEDULED', 'SUCCESS', 'FAILURE', 'MISS', 'CANCELED', 'PAUSED', 'DELETED', 'EXPIRED', 'STOPPED'];

const badge = (status) => h('span', { class: `badge s-${String(status).toLowerCase()}` }, status);

function table(headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

function dl(pairs) {
  return h('dl', { class: 'props' }, pairs.filter(([, v]) => v !== '' && v !== undefined && v !== null && v !== false)
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

const link = (hash, text) => h('a', { href: hash }, text);
// errCell is a run's error, three lines at most in a table (all of it on
// its page, and in the cell's title).
const errCell = (msg) => h('td', { class: 'err', title: msg || null }, h('div', { class: 'clamp' }, msg || ''));
const schedLink = (id) => h('a', { href: `#/schedules/${encodeURIComponent(id)}`, class: 'id' }, id);
const appLink = (app) => link(`#/apps/${encodeURIComponent(app)}`, app);

// ---------- messages ----------

function showError(err) {
  if (err && err.name === 'AbortError') return;
  if (err instanceof APIError && err.status === 401) {
    showLogin(err.message);
    return;
  }
  let text;
  if (err instanceof APIError && err.status === 403) {
    text = `This token may not ${err.what}. The server said: ${err.message}`;
  } else if (err instanceof APIError) {
    text = `Could not ${err.what}: ${err.message}` + (err.status ? ` (HTTP ${err.status})` : '');
  } else {
    text = `Something went wrong: ${err && err.message ? err.message : err}`;
  }
  notice.hidden = true;
  banner.replaceChildren(h('span', {}, text),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: clearMessages }, '×'));
  banner.hidden = false;
}

function showNotice(text) {
  banner.hidden = true;
  notice.replaceChildren(text);
  notice.hidden = false;
}

function clearMessages() {
  banner.hidden = true;
  notice.hidden = true;
}

// ---------- the API ----------

const TOKEN_KEY = 'chronicle.token';
const getToken = () => sessionStorage.getItem(TOKEN_KEY) || '';

class APIError extends Error {
  constructor(status, message, what) {
    super(message);
    this.status = status;
    this.what = what;
  }
}

function authHeaders(extra = {}) {
  const token = getToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

// errorOf reads a refusal: the native envelope's statusMessage, or another
// JSON shape's message, or the text.
async function errorOf(res, what) {
  const text = await res.text();
  let msg = '';
  try {
    const j = JSON.parse(text);
    msg = (j.status && j.status.statusMessage) || j.message || j.reason || '';
  } catch { /* not JSON */ }
  return new APIError(res.status, msg || text.trim() || res.statusText, what);
}

// api calls the API; what says what the call does, for messages ("pause
// this schedule"). A refusal is thrown as an APIError.
async function api(method, path, what, body) {
  const init = { method, headers: authHeaders({ Accept: 'application/json' }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, `the server could not be reached (${e.message})`, what);
  }
  if (!res.ok) throw await errorOf(res, what);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// notFoundEmpty turns the API's 404 for an empty list ("No runs found",
// "No cron schedules found") into an empty list.
async function notFoundEmpty(call, empty) {
  try {
    return await call();
  } catch (e) {
    if (e instanceof APIError && e.status === 404) return empty;
    throw e;
  }
}

const enc = encodeURIComponent;

// ---------- session ----------

function drawSession() {
  const token = getToken();
  if (!token) {
    sessionBox.replaceChildren();
    return;
  }
  sessionBox.replaceChildren(
    h('span', { class: 'muted' }, `token …${token.slice(-4)}`),
    h('button', { type: 'button', id: 'logout', onclick: logout }, 'Log out'));
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  drawSession();
  showNotice('Logged out.');
  route(true);
}

// showLogin replaces the view with a form asking for a token (the API
// answered 401).
function showLogin(message) {
  stopView();
  clearMessages();
  const had = getToken();
  const err = h('p', { class: 'error', id: 'login-error', role: 'alert' },
    had ? `The token was refused: ${message}` : '');
  if (had) sessionStorage.removeItem(TOKEN_KEY);
  drawSession();
  const input = h('input', { type: 'password', id: 'token', name: 'token', required: true, autocomplete: 'off',
    'aria-describedby': 'login-error' });
  const form = h('form', { class: 'card login', id: 'login' },
    h('h1', {}, 'Log in'),
    h('p', {}, 'This Chronicle node needs a token. It is kept in this tab only (sessionStorage) and sent as ',
      h('code', {}, 'Authorization: Bearer'), ' with each call.'),
    h('label', { for: 'token' }, 'Token'), input, err,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Log in')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await api('GET', '/goscheduler/apps', 'list apps');
    } catch (e2) {
      if (e2 instanceof APIError && e2.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        err.textContent = `The token was refused: ${e2.message}`;
        input.select();
        return;
      }
      // Another refusal (403 for this list, a 503) is the view's to tell.
    }
    drawSession();
    route(true);
  });
  main.replaceChildren(form);
  input.focus();
}

// ---------- confirmation ----------

function confirmDialog(text, okLabel) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener('click', yes);
      cancel.removeEventListener('click', no);
      dialog.removeEventListener('cancel', esc);
      dialog.close();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = () => done(false);
    // Escape: answered here rather than by the close event, which comes
    // later and could reach the next question.
    const esc = (e) => { e.preventDefault(); done(false); };
    ok.addEventListener('click', yes);
    cancel.addEventListener('click', no);
    dialog.addEventListener('cancel', esc);
    dialog.showModal();
    cancel.focus();
  });
}

// ---------- routing and refresh ----------

// The current view: its refreshers run every few seconds while the page
// is visible; stop ends them and the view's streams.
let current = { stopped: false, refreshers: [], stops: [] };

function stopView() {
  current.stopped = true;
  for (const stop of current.stops) stop();
  current = { stopped: false, refreshers: [], stops: [] };
}

// live loads data and draws it, then reloads it every `ticks` refresh
// ticks (2 s each) and redraws when it changed. While the keyboard focus
// is inside region (the element draw fills), the redraw waits: a row or
// button someone is on does not vanish under them.
async function live(view, load, draw, region, ticks = 1) {
  const last = await load();
  draw(last);
  let seen = JSON.stringify(last);
  let tick = 0;
  view.refreshers.push(async () => {
    if (++tick % ticks !== 0) return;
    const next = await load();
    const s = JSON.stringify(next);
    const focused = region && region.contains(document.activeElement);
    if (s !== seen && !view.stopped && !focused) {
      seen = s;
      draw(next);
    }
  });
  return {
    reload: async () => {
      const next = await load();
      seen = JSON.stringify(next);
      draw(next);
    },
  };
}

let refreshing = false;
setInterval(async () => {
  if (refreshing || document.hidden || document.getElementById('confirm').open) return;
  refreshing = true;
  const view = current;
  try {
    for (const r of view.refreshers) {
      if (view.stopped) break;
      await r();
    }
  } catch (e) {
    if (!view.stopped) showError(e);
  } finally {
    refreshing = false;
  }
}, 2000);

const routes = [
  [/^\/cluster$/, viewCluster, 'cluster'],
  [/^\/apps$/, viewApps, 'apps'],
  [/^\/apps\/([^/]+)$/, viewAppSchedules, 'apps'],
  [/^\/schedules\/([^/]+)$/, viewSchedule, 'apps'],
  [/^\/failures$/, viewFailures, 'failures'],
  [/^\/events$/, viewEvents, 'events'],
];

// route draws the view the URL's fragment names (#/apps/shop?status=FAILURE).
async function route(keepMessages = false) {
  stopView();
  if (!keepMessages) clearMessages();
  const hash = location.hash.replace(/^#/, '') || '/apps';
  const [path, qs] = hash.split('?');
  const query = new URLSearchParams(qs || '');
  let found = null;
  for (const [re, fn, nav] of routes) {
    const m = path.match(re);
    if (m) {
      try {
        found = { fn, nav, args: m.slice(1).map(decodeURIComponent) };
      } catch {
        found = null; // a malformed escape (#/schedules/%): the not-found view, not a blank page
      }
      break;
    }
  }
  for (const a of document.querySelectorAll('nav a')) {
    if (found && a.dataset.view === found.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = current;
  delete main.dataset.ready;
  main.replaceChildren();
  window.scrollTo(0, 0);
  main.focus({ preventScroll: true }); // keyboard users start at the new view, not on a link that is gone
  drawSession();
  if (!found) {
    main.append(h('h1', {}, 'Not found'), h('p', {}, 'No view at ', h('code', {}, hash), '. ', link('#/apps', 'Go to the apps.')));
    return;
  }
  try {
    await found.fn(view, query, ...found.args);
    // Says the view is drawn (for tests, and anyone scripting the page).
    if (!view.stopped) main.dataset.ready = location.hash;
  } catch (e) {
    if (!view.stopped) showError(e);
  }
}

window.addEventListener('hashchange', () => route());

// ---------- Cluster ----------

async function viewCluster(view) {
  const box = h('div');
  main.append(h('h1', {}, 'Cluster'), box);
  await live(view, () => api('GET', '/cluster', 'read the cluster status'), (st) => {
    const b = st.build || {};
    const members = (st.members || []).map((m) => h('tr', {},
      h('td', {}, m.id), h('td', {}, m.raftAddress), h('td', {}, m.httpAddress || ''),
      h('td', {}, m.voter ? 'voter' : 'non-voter'),
      h('td', {}, m.leader ? badge('LEADER') : ''),
      h('td', {}, m.reachable === undefined || m.reachable === null ? '' : (m.reachable ? 'yes' : badge('UNREACHABLE'))),
      h('td', {}, m.lastContact ? new Date(m.lastContact).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : ''),
      h('td', {}, m.eventSchema || '')));
    box.replaceChildren(
      dl([
        ['This node', st.nodeId],
        ['State', badge(String(st.state || '').toUpperCase())],
        ['Leader', st.leaderId ? `${st.leaderId} (${st.leaderAddress})` : 'none: an election is under way'],
        ['Term', st.term],
        ['Applied index', String(st.appliedIndex)],
        ['Build', `${b.version || ''} ${b.commit || ''} ${b.time || ''} ${b.go || ''}`.trim()],
      ]),
      h('h2', {}, 'Members'),
      table(['ID', 'Raft address', 'HTTP address', 'Vote', 'Leader', 'Reachable', 'Last contact', 'Event schema'], members, 'No members.'),
      h('p', { class: 'muted' }, 'This is the view of the node serving the console. /cluster gives its applied index, ' +
        'not a commit index: a member\'s lag shows as its last contact and whether it is reachable.'));
  }, box);
}

// ---------- Apps ----------

async function viewApps(view) {
  const list = h('div');
  const appId = h('input', { id: 'app-id', name: 'appId', required: true, pattern: '[A-Za-z0-9._-]+', maxlength: 128 });
  const parts = h('input', { id: 'app-partitions', name: 'partitions', type: 'number', min: 0, max: 1024, value: 0 });
  const active = h('input', { id: 'app-active', name: 'active', type: 'checkbox', checked: true });
  const form = h('form', { class: 'card', id: 'register-app' },
    h('h2', {}, 'Register an app'),
    h('div', { class: 'grid' },
      h('label', { for: 'app-id' }, 'App id'), appId,
      h('label', { for: 'app-partitions' }, 'Partitions'), h('span', {}, parts, h('small', {}, ' 0: the server\'s default')),
      h('label', { for: 'app-active' }, 'Active'), h('span', {}, active)),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Register')));
  main.append(h('h1', {}, 'Apps'), list, form);

  const apps = await live(view, async () => (await api('GET', '/goscheduler/apps', 'list apps')).data.apps, (items) => {
    list.replaceChildren(table(['App', 'Partitions', 'Status', ''], items.map((a) => h('tr', { 'data-app': a.appId },
      h('td', {}, appLink(a.appId)),
      h('td', {}, String(a.partitions)),
      h('td', {}, badge(a.active ? 'ACTIVE' : 'INACTIVE')),
      h('td', { class: 'actions' }, activationButton(a, () => apps.reload())))),
    'No apps yet: register one below.'));
  }, list);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const id = appId.value.trim();
    try {
      await api('POST', '/goscheduler/apps', `register app ${id}`,
        { appId: id, partitions: Number(parts.value) || 0, active: active.checked });
      form.reset();
      await apps.reload();
      showNotice(`App ${id} registered.`);
    } catch (err) {
      showError(err);
    }
  });
}

function activationButton(app, after) {
  const verb = app.active ? 'deactivate' : 'activate';
  return h('button', {
    type: 'button', class: app.active ? '' : 'primary',
    onclick: async () => {
      try {
        await api('POST', `/goscheduler/apps/${enc(app.appId)}/${verb}`, `${verb} app ${app.appId}`);
        await after();
        showNotice(`App ${app.appId} ${verb}d.`);
      } catch (err) {
        showError(err);
      }
    },
  }, app.active ? 'Deactivate' : 'Activate');
}

// ---------- Schedules of an app ----------

const PAGE = 20;
const MAX_TIMELINE = 1000;

function defaultRange() {
  const now = Date.now();
  return { from: new Date(now - 15 * 86400e3), to: new Date(now + 15 * 86400e3) };
}

function textMatch(s, q) {
  if (!q) return true;
  q = q.toLowerCase();
  const d = (s.callback && s.callback.details) || {};
  return [s.scheduleId, s.parentScheduleId, s.name, s.payload, d.url, s.errorMessage, s.cronExpression]
    .some((v) => v && String(v).toLowerCase().includes(q));
}

async function viewAppSchedules(view, query, app) {
  const status = query.get('status') || '';
  const q = query.get('q') || '';
  const range = defaultRange();
  if (query.get('from')) range.from = fromLocalInput(query.get('from'));
  if (query.get('to')) range.to = fromLocalInput(query.get('to'));

  // The search form
  const qIn = h('input', { id: 'search', name: 'q', type: 'search', value: q, placeholder: 'schedule id, name, URL, payload…' });
  const stIn = h('select', { id: 'status', name: 'status' }, h('option', { value: '' }, 'any status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)));
  const fromIn = h('input', { id: 'from', type: 'datetime-local', step: 1, value: localInput(range.from) });
  const toIn = h('input', { id: 'to', type: 'datetime-local', step: 1, value: localInput(range.to) });
  const search = h('form', { class: 'card search', id: 'search-form', role: 'search' },
    h('div', { class: 'row' },
      h('label', {}, 'Search ', qIn), h('label', {}, 'Status ', stIn),
      h('label', {}, 'From (UTC) ', fromIn), h('label', {}, 'To (UTC) ', toIn),
      h('button', { type: 'submit', class: 'primary' }, 'Search')),
    h('p', { class: 'muted' }, 'An exact schedule id opens that schedule; other text filters the schedules listed ' +
      '(the API has no text search). The time range is at most 30 days (the API\'s limit).'));
  search.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = qIn.value.trim();
    if (text && !/\s/.test(text)) {
      try {
        const r = await api('GET', `/goscheduler/schedules/${enc(text)}`, `find schedule ${text}`);
        if (r.data.schedule.appId === app) {
          location.hash = `#/schedules/${enc(text)}`;
          return;
        }
      } catch (err) {
        if (!(err instanceof APIError) || (err.status !== 404 && err.status !== 400)) {
          showError(err);
          return;
        }
      }
    }
    const p = new URLSearchParams();
    if (text) p.set('q', text);
    if (stIn.value) p.set('status', stIn.value);
    if (fromIn.value) p.set('from', fromIn.value);
    if (toIn.value) p.set('to', toIn.value);
    const next = `#/apps/${enc(app)}${p.toString() ? '?' + p : ''}`;
    if (location.hash === next) route();
    else location.hash = next;
  });

  const cronBox = h('div');
  const listBox = h('div');
  main.append(h('h1', {}, 'Schedules of ', h('span', { class: 'mono' }, app)),
    h('p', {}, link('#/apps', '← all apps')),
    search, h('h2', {}, 'Crons'), cronBox, h('h2', {}, 'One-time schedules and cron runs'), listBox,
    createForm(app));

  await live(view, async () => {
    const path = `/goscheduler/crons/schedules?app_id=${enc(app)}` + (status ? `&status=${enc(status)}` : '');
    const r = await notFoundEmpty(() => api('GET', path, `list the crons of ${app}`), { data: [] });
    return r.data || [];
  }, (crons) => {
    const rows = crons.filter((s) => textMatch(s, q)).map((s) => h('tr', {},
      h('td', {}, schedLink(s.scheduleId)), h('td', {}, s.name || ''),
      h('td', { class: 'mono' }, s.cronExpression), h('td', {}, s.timeZone || 'UTC'),
      h('td', { class: 't' }, utc(s.nextRunTime)), h('td', {}, badge(s.status)),
      h('td', { class: 'url' }, callbackText(s))));
    cronBox.replaceChildren(table(['ID', 'Name', 'Expression', 'Zone', 'Next run', 'Status', 'Callback'], rows,
      q || status ? 'No cron matches.' : 'No crons.'));
  }, cronBox);

  // Pages: tokens[i] is the continuation token of page i.
  const tokens = [''];
  let page = 0;
  const base = `/goscheduler/apps/${enc(app)}/schedules?size=${PAGE}` +
    `&start_time=${enc(apiTime(range.from))}&end_time=${enc(apiTime(range.to))}` + (status ? `&status=${enc(status)}` : '');
  const list = await live(view, async () => {
    const tok = tokens[page];
    const r = await api('GET', base + (tok ? `&continuationToken=${enc(tok)}` : ''), `list the schedules of ${app}`);
    return { items: r.data.schedules || [], next: r.data.continuationToken || '' };
  }, ({ items, next }) => {
    tokens[page + 1] = next;
    const rows = items.filter((s) => textMatch(s, q)).map((s) => h('tr', {},
      h('td', {}, schedLink(s.scheduleId)),
      h('td', {}, s.parentScheduleId ? schedLink(s.parentScheduleId) : ''),
      h('td', { class: 't' }, utc(s.scheduleTime)), h('td', {}, badge(s.status)),
      h('td', {}, s.httpStatus || ''), h('td', {}, s.attempts || ''),
      h('td', { class: 'url' }, callbackText(s)), errCell(s.errorMessage)));
    listBox.replaceChildren(
      table(['ID', 'Cron', 'Scheduled', 'Status', 'HTTP', 'Attempts', 'Callback', 'Error'], rows,
        q && items.length ? 'Nothing on this page matches the text.' : 'No schedules in this range.'),
      pager('schedules-pager', page, next, (p) => { page = p; return list.reload().catch(showError); }));
  }, listBox);
}

// pager moves between pages of a list by the API's continuation token;
// go(page) redraws the list, after which the focus is put back on the
// pager's button of the same direction (or the other one at the end).
function pager(id, page, next, go) {
  const turn = (to, dir) => async () => {
    await go(to);
    const el = document.getElementById(id);
    if (!el) return;
    const same = el.querySelector(`[data-dir="${dir}"]`);
    (same && !same.disabled ? same : el.querySelector('button:not(:disabled)') || el).focus();
  };
  return h('div', { class: 'pager', id, tabindex: -1 },
    h('button', { type: 'button', 'data-dir': 'prev', disabled: page === 0, onclick: turn(page - 1, 'prev') }, '← Previous'),
    h('span', { class: 'muted' }, `page ${page + 1}`),
    h('button', { type: 'button', 'data-dir': 'next', disabled: !next, onclick: turn(page + 1, 'next') }, 'Next →'));
}

function callbackText(s) {
  const d = (s.callback && s.callback.details) || {};
  if (d.command) return `$ ${d.command.lines.join(' && ')}`;
  if (d.tasks) return `workflow: ${d.tasks.length} task${d.tasks.length === 1 ? '' : 's'}`;
  return d.url ? `${d.method || ''} ${d.url}` : '';
}

// workflowText lists a workflow callback's tasks, a line each.
function workflowText(d) {
  return d.tasks.map((t) => `${t.id}. [${t.phase || '-'}] ${t.url || `${t.component}/${t.action || 'run'}`}` +
    `${t.active === false ? ' (inactive)' : ''}${t.continueOnFailure ? ' (continue on failure)' : ''}`).join('\n');
}

function createForm(app) {
  const id = (n) => `new-${n}`;
  const once = h('input', { type: 'radio', name: 'kind', id: id('once'), value: 'once', checked: true });
  const cron = h('input', { type: 'radio', name: 'kind', id: id('cron'), value: 'cron' });
  const delay = h('input', { id: id('delay'), type: 'number', min: 0, value: 60 });
  const at = h('input', { id: id('at'), type: 'datetime-local', step: 1 });
  const expr = h('input', { id: id('expr'), class: 'mono', placeholder: '0 */5 * * * *' });
  const tz = h('input', { id: id('tz'), placeholder: 'UTC' });
  const name = h('input', { id: id('name'), maxlength: 128 });
  const url = h('input', { id: id('url'), type: 'url', required: true, placeholder: 'https://example.com/hook' });
  const method = h('select', { id: id('method') }, ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'].map((m) => h('option', {}, m)));
  const headers = h('textarea', { id: id('headers'), rows: 2, class: 'mono', placeholder: 'Content-Type: application/json' });
  const body = h('textarea', { id: id('body'), rows: 3, class: 'mono' });
  const onceFields = h('div', { class: 'grid' },
    h('label', { for: id('delay') }, 'Run in (seconds)'), delay,
    h('label', { for: id('at') }, 'or at (UTC)'), h('span', {}, at, h('small', {}, ' overrides “run in”')));
  const cronFields = h('div', { class: 'grid', hidden: true },
    h('label', { for: id('expr') }, 'Cron expression'), h('span', {}, expr, h('small', {}, ' 5, 6 (seconds first) or 7 fields, @every 10s')),
    h('label', { for: id('tz') }, 'Time zone'), tz);
  const kind = () => (cron.checked ? 'cron' : 'once');
  const toggle = () => {
    onceFields.hidden = kind() !== 'once';
    cronFields.hidden = kind() !== 'cron';
    expr.required = kind() === 'cron';
  };
  once.addEventListener('change', toggle);
  cron.addEventListener('change', toggle);

  const form = h('form', { class: 'card', id: 'create-schedule' },
    h('h2', {}, 'Create a schedule'),
    h('fieldset', {}, h('legend', {}, 'Kind'),
      h('label', { for: id('once') }, once, ' one-time'), ' ', h('label', { for: id('cron') }, cron, ' cron')),
    onceFields, cronFields,
    h('div', { class: 'grid' },
      h('label', { for: id('name') }, 'Name (optional)'), name,
      h('label', { for: id('url') }, 'Callback URL'), url,
      h('label', { for: id('method') }, 'Method'), method,
      h('label', { for: id('headers') }, 'Headers'), h('span', {}, headers, h('small', {}, ' one “Name: value” a line')),
      h('label', { for: id('body') }, 'Body (payload)'), body),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Create')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const req = {
      appId: app, payload: body.value,
      callback: { type: 'http', details: { url: url.value.trim(), method: method.value } },
    };
    const hs = {};
    for (const line of headers.value.split('\n')) {
      const i = line.indexOf(':');
      if (line.trim() && i > 0) hs[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    if (Object.keys(hs).length) req.callback.details.headers = hs;
    if (name.value.trim()) req.name = name.value.trim();
    if (kind() === 'cron') {
      req.cronExpression = expr.value.trim();
      if (tz.value.trim()) req.timeZone = tz.value.trim();
    } else {
      const when = fromLocalInput(at.value);
      req.scheduleTime = when ? Math.floor(when.getTime() / 1000) : Math.floor(Date.now() / 1000) + (Number(delay.value) || 0);
    }
    try {
      const r = await api('POST', '/goscheduler/schedules', `create a schedule in ${app}`, req);
      const sid = r.data.schedule.scheduleId;
      location.hash = `#/schedules/${enc(sid)}`;
      showNotice(`Schedule ${sid} created.`);
    } catch (err) {
      showError(err);
    }
  });
  return form;
}

// ---------- A schedule ----------

async function viewSchedule(view, _query, id) {
  const path = `/goscheduler/schedules/${enc(id)}`;
  const head = h('div');
  const defBox = h('section', { id: 'definition' });
  const futureBox = h('section', { id: 'future' });
  const runsBox = h('section', { id: 'runs' });
  const histBox = h('section', { id: 'history' });
  main.append(head, h('div', { class: 'cols' }, defBox, futureBox), runsBox, histBox);

  let s = null;
  let headStatus = '';
  const def = await live(view, async () => (await api('GET', path, `read schedule ${id}`)).data.schedule, (sched) => {
    s = sched;
    const isRun = !!s.parentScheduleId;
    const isCron = !!s.cronExpression;
    const d = (s.callback && s.callback.details) || {};
    // The title and the buttons change with the status only (a cron's
    // next run changes every tick; its buttons should not).
    if (headStatus !== s.status) {
      headStatus = s.status;
      head.replaceChildren(
        h('h1', {}, isRun ? 'Run ' : (isCron ? 'Cron ' : 'Schedule '), h('span', { class: 'mono' }, s.scheduleId), ' ',
          h('span', { id: 'status-badge' }, badge(s.status))),
        h('p', {}, 'App ', appLink(s.appId), isRun ? [' · run of cron ', schedLink(s.parentScheduleId)] : ''),
        actions(s, () => refreshAll()));
    }
    defBox.replaceChildren(h('h2', {}, 'Definition'), dl([
      ['Status', badge(s.status)],
      ['Name', s.name || ''],
      ['Number', s.number || ''],
      ['Cron expression', isCron ? h('code', {}, s.cronExpression) : ''],
      ['Time zone', isCron ? (s.timeZone || 'UTC') : ''],
      ['Scheduled', s.scheduleTimeMs ? utc(s.scheduleTimeMs, true) : utc(s.scheduleTime)],
      ['Next run', utc(s.nextRunTime)],
      ['End time', utc(s.endTime)],
      ['Callback', d.command ? h('pre', {}, d.command.lines.map((l) => `$ ${l}`).join('\n'))
        : d.tasks ? h('pre', {}, workflowText(d)) : `${d.method || ''} ${d.url || ''}`],
      ['Headers', d.headers ? h('pre', {}, Object.entries(d.headers).map(([k, v]) => `${k}: ${v}`).join('\n')) : ''],
      ['Payload', s.payload ? h('pre', { id: 'payload' }, s.payload) : ''],
      ['Retry', s.retry ? JSON.stringify(s.retry) : ''],
      ['Labels', s.labels ? Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(', ') : ''],
      ['Stops on callback', s.stopOnCallback ? 'yes' : ''],
      ['HTTP status', s.httpStatus ? h('span', { id: 'http-status' }, String(s.httpStatus)) : ''],
      ['Attempts', s.attempts ? h('span', { id: 'attempts' }, String(s.attempts)) : ''],
      ['Error', s.errorMessage ? h('span', { id: 'error-message', class: 'err' }, s.errorMessage) : ''],
      ['Partition', String(s.partitionId)],
      ['Updated', utc(s.updatedAt, true)],
    ]));
  }, defBox);

  // Next runs: a cron's coming occurrences, computed by the server.
  if (s.cronExpression && !s.parentScheduleId) {
    await live(view, async () => {
      if (s.status !== 'SCHEDULED') return [];
      const r = await notFoundEmpty(() => api('GET', `${path}/runs?when=future&size=5`, `list the next runs of ${id}`), { data: {} });
      return (r.data && r.data.schedules) || [];
    }, (items) => {
      futureBox.replaceChildren(h('h2', {}, 'Next runs'), items.length
        ? h('ol', { class: 'next' }, items.map((r) => h('li', {}, utc(r.scheduleTime))))
        : h('p', { class: 'empty' }, s.status === 'SCHEDULED' ? 'No coming run.' : `None while ${s.status.toLowerCase()}.`));
    }, futureBox);
  }

  // Past runs, newest first, by the API's continuation token.
  const tokens = [''];
  let page = 0;
  let runs = null;
  runs = await live(view, async () => {
    const tok = tokens[page];
    const r = await notFoundEmpty(() => api('GET', `${path}/runs?when=past&size=10` + (tok ? `&continuationToken=${enc(tok)}` : ''),
      `list the runs of ${id}`), { data: {} });
    return { items: (r.data && r.data.schedules) || [], next: (r.data && r.data.continuationToken) || '' };
  }, ({ items, next }) => {
    tokens[page + 1] = next;
    const rows = items.map((r) => h('tr', { 'data-run': r.scheduleId, 'data-status': r.status },
      h('td', {}, r.scheduleId === id ? h('span', { class: 'mono' }, r.scheduleId) : schedLink(r.scheduleId)),
      h('td', { class: 't' }, utc(r.scheduleTime)), h('td', {}, badge(r.status)),
      h('td', {}, r.httpStatus || ''), h('td', {}, r.attempts || ''), errCell(r.errorMessage)));
    runsBox.replaceChildren(h('h2', {}, 'Past runs'),
      table(['Run', 'Scheduled', 'Status', 'HTTP', 'Attempts', 'Error'], rows, 'No run yet.'),
      pager('runs-pager', page, next, (p) => { page = p; return runs.reload().catch(showError); }));
  }, runsBox);

  // History: every event of the schedule, oldest first; new ones are
  // appended as they come.
  const list = h('ol', { class: 'timeline', id: 'timeline' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  histBox.replaceChildren(h('h2', {}, 'History'), list, more);
  let after = 0;
  let hasMore = false;
  const loadEvents = async () => {
    const r = await api('GET', `${path}/events?size=100&after=${after}`, `read the history of ${id}`);
    for (const ev of r.data.events || []) list.append(timelineItem(ev));
    after = r.data.next || after;
    hasMore = !!r.data.more;
    more.hidden = !hasMore;
  };
  more.addEventListener('click', () => loadEvents().catch(showError));
  await loadEvents();
  // New events are appended as they come, up to a bound: past it (a busy
  // cron left open) they wait for "Load more".
  view.refreshers.push(async () => {
    if (!hasMore && list.children.length < MAX_TIMELINE) await loadEvents();
    else more.hidden = false;
  });

  async function refreshAll() {
    await def.reload();
    if (runs) await runs.reload();
    if (!hasMore) await loadEvents();
  }
}

function actions(s, after) {
  const id = s.scheduleId;
  const isRun = !!s.parentScheduleId;
  const isCron = !!s.cronExpression && !isRun;
  const path = `/goscheduler/schedules/${enc(id)}`;
  const act = (label, method, suffix, what, message, cls = '') => h('button', {
    type: 'button', class: cls, id: `action-${label.toLowerCase().replace(/\s+/g, '-')}`,
    onclick: async () => {
      try {
        const r = await api(method, path + suffix, what);
        await after();
        showNotice(typeof message === 'function' ? message(r) : message);
      } catch (err) {
        showError(err);
      }
    },
  }, label);
  const buttons = [];
  if (!isRun && s.status === 'SCHEDULED') buttons.push(act('Pause', 'POST', '/pause', `pause schedule ${id}`, `Schedule ${id} paused.`));
  if (!isRun && s.status === 'PAUSED') buttons.push(act('Resume', 'POST', '/resume', `resume schedule ${id}`, `Schedule ${id} resumed.`));
  if (isCron && (s.status === 'SCHEDULED' || s.status === 'PAUSED')) {
    buttons.push(act('Trigger now', 'POST', '/trigger', `trigger schedule ${id}`, (r) => `Run ${r.data.runId} triggered.`));
  }
  if (!isRun && s.status !== 'DELETED') {
    buttons.push(h('button', {
      type: 'button', class: 'danger', id: 'action-delete',
      onclick: async () => {
        const what = isCron ? `cron ${id} and its coming runs` : `schedule ${id}`;
        if (!await confirmDialog(`Delete ${what}? This cannot be undone.`, 'Delete')) return;
        try {
          await api('DELETE', path, `delete schedule ${id}`);
          await after();
          showNotice(`Schedule ${id} deleted.`);
        } catch (err) {
          showError(err);
        }
      },
    }, 'Delete…'));
  }
  return h('div', { class: 'toolbar' }, buttons);
}

// summary says in a line what an event did.
function summary(ev) {
  const d = ev.data || {};
  const cb = d.callback ? `${d.callback.method || ''} ${d.callback.url || ''}` : '';
  switch (ev.type) {
    case 'ScheduleCreated':
      return (d.cronExpression ? `cron ${d.cronExpression}` : `one-time at ${utc(d.scheduleTime)}`) + ` → ${cb}` + (d.paused ? ', paused' : '');
    case 'RunFired':
      return `run ${d.runId} fired (due ${utc(d.scheduledTime)})` + (d.refire ? ', again after a failover' : '');
    case 'RunCompleted':
      return `run ${d.runId}: ${d.status}` + (d.httpStatus ? `, HTTP ${d.httpStatus}` : '') +
        (d.attempts ? `, ${d.attempts} attempt${d.attempts > 1 ? 's' : ''}` : '') + (d.errorMessage ? ` — ${d.errorMessage}` : '') +
        (d.skipped ? `, ${d.skipped} occurrences skipped` : '');
    case 'RunTriggered':
      return `run ${d.runId} triggered`;
    case 'ScheduleUpdated':
      return `changed ${(d.changed || []).join(', ')}`;
    case 'SchedulePaused':
      return 'paused';
    case 'ScheduleResumed':
      return 'resumed' + (d.nextRunTime ? `, next run ${utc(d.nextRunTime)}` : '');
    case 'ScheduleDeleted':
      return 'deleted';
    case 'ScheduleClosed':
      return `closed: ${d.reason}` + (d.message ? ` — ${d.message}` : '');
    case 'ScheduleStoppedByCallback':
      return `stopped by the answer to run ${d.runId}` + (d.httpStatus ? ` (HTTP ${d.httpStatus})` : '');
    case 'AppRegistered':
      return `app ${d.appId} registered, ${d.partitions} partitions`;
    case 'AppActivated':
    case 'AppDeactivated':
      return `app ${d.appId}`;
    case 'BulkAction':
      return `${d.action} of ${d.status || 'every status'} from ${utc(d.startTime)} to ${utc(d.endTime)}`;
    default:
      return '';
  }
}

function timelineItem(ev) {
  const failed = ev.type === 'RunCompleted' && ev.data && ev.data.status !== 'SUCCESS';
  return h('li', { class: failed ? 'bad' : '', 'data-type': ev.type },
    h('div', { class: 'when' }, ev.time.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC')),
    h('div', {}, h('strong', {}, ev.type), ' ', h('span', {}, summary(ev))),
    h('div', { class: 'muted' }, `#${ev.seq} · ${ev.actor || 'unknown actor'} · node ${ev.node} · term ${ev.term}`),
    h('details', {}, h('summary', {}, 'data'), h('pre', {}, JSON.stringify(ev.data, null, 2))));
}

// ---------- Failures ----------

async function viewFailures(view, query) {
  const to = query.get('to') ? fromLocalInput(query.get('to')) : new Date(Date.now() + 60e3);
  const from = query.get('from') ? fromLocalInput(query.get('from')) : new Date(to.getTime() - 30 * 86400e3);
  const fromIn = h('input', { id: 'from', type: 'datetime-local', step: 1, value: localInput(from) });
  const toIn = h('input', { id: 'to', type: 'datetime-local', step: 1, value: localInput(to) });
  const form = h('form', { class: 'card search' }, h('div', { class: 'row' },
    h('label', {}, 'From (UTC) ', fromIn), h('label', {}, 'To (UTC) ', toIn),
    h('button', { type: 'submit', class: 'primary' }, 'Show')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/failures?from=${enc(fromIn.value)}&to=${enc(toIn.value)}`;
  });
  const box = h('div');
  main.append(h('h1', {}, 'Failures'),
    h('p', {}, 'Runs that failed (FAILURE: the callback answered non-2xx or could not be reached, after its retries) ' +
      'or were missed (MISS: overdue beyond the misfire threshold), in every app this token may see, scheduled in the ' +
      'range below. They come from each app\'s schedule list filtered by status (the API\'s own query, at most 30 days ' +
      'at a time); newest first, up to 100 per app and status; refreshed every 30 seconds.'),
    form, box);
  const start = enc(apiTime(from));
  const end = enc(apiTime(to));
  await live(view, async () => {
    const apps = (await api('GET', '/goscheduler/apps', 'list apps')).data.apps;
    const found = [];
    const truncated = [];
    for (const a of apps) {
      for (const st of ['FAILURE', 'MISS']) {
        const r = await api('GET', `/goscheduler/apps/${enc(a.appId)}/schedules?status=${st}&size=100&start_time=${start}&end_time=${end}`,
          `list the ${st} runs of ${a.appId}`);
        found.push(...(r.data.schedules || []));
        if (r.data.continuationToken) truncated.push([a.appId, st]);
      }
    }
    found.sort((x, y) => y.scheduleTime - x.scheduleTime || (x.scheduleId < y.scheduleId ? -1 : 1));
    return { found, truncated };
  }, ({ found, truncated }) => {
    const rows = found.map((s) => h('tr', {},
      h('td', {}, appLink(s.appId)), h('td', {}, schedLink(s.scheduleId)),
      h('td', {}, s.parentScheduleId ? schedLink(s.parentScheduleId) : ''),
      h('td', { class: 't' }, utc(s.scheduleTime)), h('td', {}, badge(s.status)),
      h('td', {}, s.httpStatus || ''), h('td', {}, s.attempts || ''), errCell(s.errorMessage)));
    box.replaceChildren(
      table(['App', 'Run', 'Cron', 'Scheduled', 'Status', 'HTTP', 'Attempts', 'Error'], rows, 'No failed or missed run in this range.'),
      truncated.map(([app, st]) => h('p', { class: 'muted' }, `More ${st} runs of ${app} in this range: `,
        link(`#/apps/${enc(app)}?status=${st}&from=${enc(fromIn.value)}&to=${enc(toIn.value)}`, 'see them all'), '.')));
  }, box, 15); // two calls per app: every 30 s, not every tick
}

// ---------- Live events ----------

async function viewEvents(view) {
  const types = h('input', { id: 'types', placeholder: 'e.g. RunCompleted,ScheduleDeleted' });
  const toggle = h('button', { type: 'button', id: 'stream-toggle', class: 'primary' }, 'Pause');
  const state = h('span', { id: 'stream-state', class: 'muted', role: 'status' }, 'connecting…');
  const body = h('tbody', { id: 'events' });
  const form = h('form', { class: 'card search' }, h('div', { class: 'row' },
    h('label', {}, 'Types ', types), h('button', { type: 'submit' }, 'Apply'), toggle, state));
  main.append(h('h1', {}, 'Live events'),
    h('p', { class: 'muted' }, 'The event log as it grows (GET /events as a server-sent-event stream, newest on top), ' +
      'from the last 20 events; the token\'s scope decides which events it shows.'),
    form,
    h('table', {}, h('thead', {}, h('tr', {}, ['Seq', 'Time', 'Type', 'App', 'Schedule', 'Actor', 'What'].map((t) => h('th', { scope: 'col' }, t)))), body));

  let ctrl = null;
  let last = null; // the seq to resume after
  const stop = () => { if (ctrl) ctrl.abort(); ctrl = null; };
  view.stops.push(stop);
  const start = async () => {
    stop();
    const mine = new AbortController();
    ctrl = mine;
    try {
      if (last === null) {
        const r = await api('GET', '/events?limit=1&after=0', 'read the event log');
        last = Math.max(0, (r.lastSeq || 0) - 20);
      }
      while (!mine.signal.aborted) {
        state.textContent = 'live';
        await follow(mine.signal);
        state.textContent = 'reconnecting…';
        await new Promise((ok) => setTimeout(ok, 1000));
      }
    } catch (e) {
      if (e.name === 'AbortError' || mine.signal.aborted) return;
      state.textContent = 'stopped';
      toggle.textContent = 'Resume';
      showError(e);
    }
  };
  const follow = async (signal) => {
    const t = types.value.replace(/\s+/g, '');
    const res = await fetch(`/events?after=${last}` + (t ? `&types=${enc(t)}` : ''), {
      headers: authHeaders({ Accept: 'text/event-stream' }), signal,
    });
    if (!res.ok) throw await errorOf(res, 'follow the event stream');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let id = null;
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) id = Number(line.slice(4));
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (id !== null) last = id;
        if (data) addRow(JSON.parse(data));
      }
    }
  };
  const addRow = (ev) => {
    const d = ev.data || {};
    const sid = d.runId || d.scheduleId;
    body.prepend(h('tr', { 'data-type': ev.type },
      h('td', {}, String(ev.seq)), h('td', { class: 't' }, ev.time.replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '')),
      h('td', {}, ev.type), h('td', {}, d.appId ? appLink(d.appId) : ''), h('td', {}, sid ? schedLink(sid) : ''),
      h('td', {}, ev.actor || ''), h('td', { title: summary(ev) }, h('div', { class: 'clamp' }, summary(ev)))));
    while (body.rows.length > 300) body.deleteRow(-1);
  };
  toggle.addEventListener('click', () => {
    if (ctrl) {
      stop();
      toggle.textContent = 'Resume';
      state.textContent = 'paused';
    } else {
      toggle.textContent = 'Pause';
      start();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    body.replaceChildren();
    toggle.textContent = 'Pause';
    start();
  });
  start();
}

route();
