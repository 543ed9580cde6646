// The playground page: the served models with live metrics, and a try-it panel for the chosen
// model's task. Plain ES modules, served by hubserve itself.
import { ApiError, curlLine, getApiKey, getJson, getText, infer, setApiKey } from './api.js';
import { formatMs, h, replace } from './dom.js';
import { parsePrometheus, rates, summarize } from './metrics.js';
import { PANELS, panelTasks } from './panels.js';

const POLL_MS = 2000;
/** Without a /metrics route, look again now and then (a newer server may have one). */
const METRICS_RETRY_MS = 30000;
const REQUEST_TIMEOUT_MS = 120000;

const $ = (id) => document.getElementById(id);

const state = {
  models: [],
  modelsLoaded: false,
  model: '',
  task: '',
  /** Field values by `task:field`, kept across model and task changes. */
  values: new Map(),
  metrics: { available: undefined, previous: undefined, previousAt: 0, rates: new Map(), nextTryAt: 0 },
  running: undefined,
  rows: new Map(),
};

const currentModel = () => state.models.find((m) => m.name === state.model);
const currentPanel = () => PANELS[state.task];

// ---------------------------------------------------------------- errors

function errorNode(error) {
  const e = error instanceof ApiError ? error : new ApiError(0, 'error', String(error?.message ?? error));
  const hint =
    e.status === 401 || e.status === 403
      ? ' Check the API key at the top of the page.'
      : e.status === 503 && e.code !== 'aborted'
        ? ' The model may still be loading; try again in a moment.'
        : '';
  return h(
    'div',
    { class: 'error', dataset: { code: e.code } },
    h('strong', {}, e.code),
    e.status ? ` (HTTP ${e.status})` : '',
    ': ',
    e.message,
    hint,
  );
}

// ---------------------------------------------------------------- the model list

/** A model can be run when it is ready, or unloaded with a known task (the run loads it). */
const runnable = (model) => model.state === 'ready' || (model.state === 'unloaded' && Boolean(model.task));

function versionText(model) {
  if (model.revision || model.commit) {
    const commit = model.commit ? model.commit.slice(0, 7) : '';
    return [model.revision, commit && commit !== model.revision ? commit : ''].filter(Boolean).join(' @ ');
  }
  return 'local';
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function stateBadge(model) {
  return h(
    'span',
    { class: `badge state-${model.state}`, dataset: { state: model.state } },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    model.state,
  );
}

function metricsCells(model) {
  const m = state.metrics;
  if (m.available === false) return ['n/a', 'n/a'];
  const r = m.rates.get(model.name);
  if (!r) return [m.previous ? '0.0' : '—', '—'];
  const rps = r.rps >= 10 ? r.rps.toFixed(0) : r.rps.toFixed(1);
  const errors =
    r.errorsPerSecond > 0 ? h('span', { class: 'bad' }, ` (${r.errorsPerSecond.toFixed(1)} err/s)`) : '';
  const latency =
    r.meanMs === undefined
      ? '—'
      : h(
          'span',
          {},
          formatMs(r.meanMs),
          h('span', { class: 'sub' }, `p50 ${formatMs(r.p50Ms)}`, h('br'), `p95 ${formatMs(r.p95Ms)}`),
        );
  return [h('span', {}, rps, errors), latency];
}

function modelRow(model) {
  const cells = {
    name: h('td', { dataset: { label: 'Model' } }),
    state: h('td', { dataset: { label: 'State' } }),
    task: h('td', { dataset: { label: 'Task' } }),
    version: h('td', { dataset: { label: 'Version' } }),
    runs: h('td', { dataset: { label: 'Runs on' } }),
    queue: h('td', { dataset: { label: 'Queue' } }),
    rps: h('td', { class: 'num', dataset: { label: 'Requests/s' } }),
    latency: h('td', { class: 'num', dataset: { label: 'Latency' } }),
    action: h('td', { class: 'action' }),
  };
  const button = h(
    'button',
    {
      type: 'button',
      class: 'secondary small',
      onclick: () => {
        selectModel(model.name);
        focusFirstField();
      },
    },
    'Try',
    h('span', { class: 'visually-hidden' }, ` ${model.name}`),
  );
  cells.action.append(button);
  const row = h('tr', { dataset: { model: model.name } }, Object.values(cells));
  // A failed model's reason gets a line of its own under the row: it is often long.
  const reason = h('td', { colspan: '9' });
  const detail = h('tr', { class: 'detail-row', dataset: { detailFor: model.name } }, reason);
  return { row, cells, button, detail, reason };
}

function updateRow(entry, model) {
  const { cells, button } = entry;
  entry.row.dataset.state = model.state;
  replace(
    cells.name,
    h('span', { class: 'model-name' }, model.name),
    h('span', { class: 'sub clip', title: model.source }, model.source),
  );
  replace(cells.state, stateBadge(model));
  replace(
    entry.reason,
    model.error &&
      h(
        'p',
        { class: 'reason' },
        h('strong', {}, `${model.name} ${model.state === 'failed' ? 'failed' : 'is not ready'}: `),
        h('code', {}, model.error.code),
        ' ',
        model.error.message,
      ),
  );
  const others = (model.tasks ?? []).filter((t) => t !== model.task);
  replace(
    cells.task,
    h('span', { class: 'task' }, model.task ?? '—'),
    others.length
      ? h('span', { class: 'sub clip', title: others.join(', ') }, `also ${others.join(', ')}`)
      : '',
  );
  replace(cells.version, h('span', { class: 'nowrap', title: model.commit ?? '' }, versionText(model)));
  replace(
    cells.runs,
    h('span', { class: 'nowrap' }, `${model.device} · ${model.dtype}`),
    model.instances > 1 ? h('span', { class: 'sub' }, `${model.instances} instances`) : '',
  );
  const q = model.queue;
  replace(
    cells.queue,
    q ? `${q.queued} queued · ${q.running} running` : '—',
    q
      ? h(
          'span',
          { class: 'sub' },
          `${plural(q.batches, 'batch', 'batches')} of ${plural(q.batched_inputs, 'input')}`,
        )
      : '',
  );
  const [rps, latency] = metricsCells(model);
  replace(cells.rps, rps);
  replace(cells.latency, latency);
  button.disabled = !runnable(model);
}

function renderModels() {
  const body = $('models-body');
  if (!state.models.length) {
    replace(body, h('tr', {}, h('td', { colspan: '9', class: 'muted' }, 'No models are served.')));
    state.rows.clear();
    return;
  }
  const seen = new Set();
  for (const model of state.models) {
    let entry = state.rows.get(model.name);
    if (!entry) state.rows.set(model.name, (entry = modelRow(model)));
    updateRow(entry, model);
    seen.add(model.name);
  }
  for (const name of [...state.rows.keys()]) if (!seen.has(name)) state.rows.delete(name);
  // Appending an element already in place moves it: rows keep their focus and order follows the list.
  const rows = state.models.flatMap((m) => {
    const entry = state.rows.get(m.name);
    return m.error ? [entry.row, entry.detail] : [entry.row];
  });
  if (rows.some((row, i) => body.children[i] !== row) || body.children.length !== rows.length) {
    replace(body, rows);
  }
  renderSummary();
}

function renderSummary() {
  const ready = state.models.filter((m) => m.state === 'ready').length;
  const parts = [`${state.models.length} models, ${ready} ready`];
  const m = state.metrics;
  if (m.available === false) parts.push('metrics unavailable');
  else if (m.available === 'denied') parts.push('metrics need an API key');
  else if (m.previous && m.rates.size) {
    const total = [...m.rates.values()].reduce((sum, r) => sum + r.rps, 0);
    parts.push(`${total.toFixed(1)} requests/s in all`, `live, every ${POLL_MS / 1000} s`);
  } else if (m.available) parts.push(`live, every ${POLL_MS / 1000} s`);
  $('live-summary').textContent = parts.join(' · ');
}

/**
 * The models as the page names them: `name@version` where a name has several versions, so that each
 * version is a row of its own and runs as itself (the API takes the same name).
 */
function versionNamed(models) {
  const versions = new Map();
  for (const m of models) versions.set(m.name, (versions.get(m.name) ?? 0) + 1);
  return models.map((m) => (versions.get(m.name) > 1 ? { ...m, name: `${m.name}@${m.version}` } : m));
}

async function loadModels() {
  try {
    const { models } = await getJson('/models', { signal: AbortSignal.timeout(10000) });
    state.models = versionNamed(models);
    $('models-error').hidden = true;
  } catch (error) {
    replace($('models-error'), errorNode(error));
    $('models-error').hidden = false;
    if (!state.modelsLoaded) {
      replace($('models-body'), h('tr', {}, h('td', { colspan: '9', class: 'muted' }, 'No model list.')));
    }
    return;
  }
  const first = !state.modelsLoaded;
  state.modelsLoaded = true;
  renderModels();
  renderPickers(first);
}

async function loadMetrics() {
  const m = state.metrics;
  if (m.available === false && performance.now() < m.nextTryAt) return;
  let text;
  try {
    text = await getText('/metrics', { signal: AbortSignal.timeout(10000) });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) m.available = 'denied';
    return;
  }
  if (text === null) {
    m.available = false;
    m.nextTryAt = performance.now() + METRICS_RETRY_MS;
    return;
  }
  const now = performance.now();
  // An extra poll (a new API key, the tab shown again) right after the last one would make noisy rates.
  if (m.previous && now - m.previousAt < POLL_MS / 2) return;
  const summary = summarize(parsePrometheus(text));
  if (m.previous) m.rates = rates(m.previous, summary, (now - m.previousAt) / 1000);
  m.previous = summary;
  m.previousAt = now;
  m.available = true;
}

let pollTimer;
let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  clearTimeout(pollTimer);
  try {
    if (!document.hidden) {
      await loadMetrics();
      await loadModels();
    }
  } finally {
    polling = false;
    pollTimer = setTimeout(poll, POLL_MS);
  }
}

// ---------------------------------------------------------------- model and task pickers

function renderPickers(first) {
  const select = $('model-select');
  if (first) {
    const wanted = new URLSearchParams(location.hash.slice(1));
    const fromHash = state.models.find((m) => m.name === wanted.get('model'));
    const model = fromHash ?? state.models.find((m) => m.state === 'ready') ?? state.models[0];
    state.model = model?.name ?? '';
    state.task = fromHash && wanted.get('task') ? wanted.get('task') : '';
  }
  const options = state.models.map((m) =>
    h('option', { value: m.name }, m.state === 'ready' ? m.name : `${m.name} (${m.state})`),
  );
  const same =
    select.options.length === options.length &&
    options.every((o, i) => select.options[i].value === o.value && select.options[i].text === o.text);
  if (!same) {
    replace(select, options);
    select.value = state.model;
  }
  const before = `${state.task}|${currentModel()?.state}`;
  if (first || !same) renderTaskPicker();
  updateAvailability();
  if (first) renderForm();
  else if (before !== `${state.task}|${currentModel()?.state}`) {
    saveValues();
    renderForm();
  }
}

function renderTaskPicker() {
  const model = currentModel();
  const tasks = model ? panelTasks(model) : [];
  if (!tasks.includes(state.task)) state.task = tasks.includes(model?.task) ? model.task : (tasks[0] ?? '');
  const select = $('task-select');
  replace(
    select,
    tasks.length ? tasks.map((t) => h('option', { value: t }, t)) : h('option', { value: '' }, '—'),
  );
  select.value = state.task;
  select.disabled = tasks.length < 2;
}

function selectModel(name) {
  if (name === state.model) return;
  saveValues();
  state.model = name;
  $('model-select').value = name;
  renderTaskPicker();
  updateAvailability();
  renderForm();
  updateHash();
}

function updateHash() {
  const params = new URLSearchParams({ model: state.model, task: state.task });
  history.replaceState(null, '', `#${params}`);
}

/** Says why a model can't be tried, and disables Run until it can. */
function updateAvailability() {
  const model = currentModel();
  const note = $('model-note');
  let message = '';
  if (!model) message = state.models.length ? 'Choose a model.' : 'No models are served.';
  else if (model.state === 'failed') {
    message = `This model failed to load${model.error ? ` (${model.error.code}): ${model.error.message}` : '.'}`;
  } else if (!runnable(model)) {
    message =
      model.state === 'unloaded'
        ? 'This model loads on its first request; the playground knows its task once it has loaded.'
        : `This model is ${model.state}; it can be tried once ready.`;
  } else if (!state.task) message = 'This model has no task the playground knows.';
  note.textContent = message;
  note.hidden = !message;
  note.classList.toggle('error', model?.state === 'failed');
  $('run').disabled = Boolean(message) || Boolean(state.running);
}

// ---------------------------------------------------------------- the form

const fieldId = (name) => `field-${name}`;

function fieldNode(field) {
  const id = fieldId(field.name);
  const saved = state.values.get(`${state.task}:${field.name}`);
  const value = saved ?? field.value;
  const hints = [];
  if (field.type === 'text') hints.push('Enter runs, Shift+Enter adds a line.');
  if (field.type === 'lines') hints.push('Ctrl+Enter runs.');
  const hintText = [field.hint, ...hints].filter(Boolean).join(' ');
  const hint = hintText ? h('p', { class: 'hint', id: `${id}-hint` }, hintText) : undefined;
  const described = hint ? `${id}-hint` : undefined;
  const common = { id, name: field.name, 'aria-describedby': described };
  if (field.type === 'checkbox') {
    return h(
      'div',
      { class: 'field checkbox' },
      h('input', { ...common, type: 'checkbox', checked: Boolean(value) }),
      h('label', { for: id }, field.label),
      hint,
    );
  }
  let control;
  if (field.type === 'text' || field.type === 'lines') {
    control = h('textarea', {
      ...common,
      rows: field.type === 'lines' ? 4 : 2,
      spellcheck: 'false',
      value: String(value),
      dataset: { enter: field.type === 'text' ? 'submit' : 'newline' },
    });
  } else if (field.type === 'select') {
    control = h(
      'select',
      common,
      field.options.map((o) => h('option', { value: o }, o)),
    );
    control.value = String(value);
  } else if (field.type === 'number') {
    control = h('input', {
      ...common,
      type: 'number',
      inputmode: 'decimal',
      min: field.min,
      max: field.max,
      step: field.step ?? '1',
      value: value === undefined ? '' : String(value),
      placeholder: 'default',
    });
  } else {
    control = h('input', { ...common, type: 'text', spellcheck: 'false', value: String(value) });
  }
  return h(
    'div',
    { class: `field${field.type === 'number' || field.type === 'select' ? ' narrow' : ''}` },
    h('label', { for: id }, field.label),
    control,
    hint,
  );
}

function renderForm() {
  const panel = currentPanel();
  const container = $('fields');
  if (!panel) {
    replace(container);
    $('panel-description').textContent = '';
    updateCurl();
    return;
  }
  $('panel-description').textContent = `${panel.title} with ${state.model}`;
  replace(container, panel.fields.map(fieldNode));
  $('run-hint').textContent = panel.fields.some((f) => f.type === 'lines')
    ? 'or press Enter (Ctrl+Enter in multi-line fields)'
    : 'or press Enter';
  updateCurl();
}

function readValues() {
  const panel = currentPanel();
  const values = {};
  for (const field of panel?.fields ?? []) {
    const control = $(fieldId(field.name));
    if (!control) continue;
    if (field.type === 'checkbox') values[field.name] = control.checked;
    else if (field.type === 'number')
      values[field.name] = control.value === '' ? undefined : Number(control.value);
    else values[field.name] = control.value;
  }
  return values;
}

function saveValues() {
  const panel = currentPanel();
  if (!panel) return;
  const values = readValues();
  for (const field of panel.fields) state.values.set(`${state.task}:${field.name}`, values[field.name]);
}

function focusFirstField() {
  const first = $('fields').querySelector('textarea, input, select');
  $('try').scrollIntoView({ behavior: 'smooth', block: 'start' });
  (first ?? $('model-select')).focus({ preventScroll: true });
}

// ---------------------------------------------------------------- the request as curl

function updateCurl() {
  const panel = currentPanel();
  const model = currentModel();
  const pre = $('curl-line');
  if (!panel || !model) {
    pre.textContent = '';
    $('copy-curl').disabled = true;
    return;
  }
  const values = readValues();
  try {
    pre.textContent = curlLine(model.name, panel.request(values), {
      stream: Boolean(panel.stream?.(values)),
    });
    $('copy-curl').disabled = false;
  } catch (error) {
    pre.textContent = `(no request: ${error.message})`;
    $('copy-curl').disabled = true;
  }
}

async function copyCurl() {
  const text = $('curl-line').textContent;
  const status = $('copy-status');
  let copied;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    // no clipboard API (an insecure origin): select the text and use the old command
    const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true', value: text });
    document.body.append(area);
    area.select();
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
    area.remove();
  }
  if (!copied) {
    const range = document.createRange();
    range.selectNodeContents($('curl-line'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
  status.textContent = copied ? 'Copied' : 'Selected: press Ctrl+C to copy';
  clearTimeout(copyCurl.timer);
  copyCurl.timer = setTimeout(() => (status.textContent = ''), 3000);
}

// ---------------------------------------------------------------- running

function timingText(timing) {
  const entries = Object.entries(timing ?? {});
  return entries.length ? ` · server: ${entries.map(([k, v]) => `${k} ${formatMs(v)}`).join(', ')}` : '';
}

async function run() {
  const model = currentModel();
  const panel = currentPanel();
  if (!model || !panel || !runnable(model) || state.running) return;
  const values = readValues();
  saveValues();
  let request;
  try {
    request = panel.request(values);
  } catch (error) {
    replace($('result'), errorNode(new ApiError(0, 'invalid_form', error.message)));
    return;
  }
  const controller = new AbortController();
  state.running = controller;
  const region = $('result-region');
  const output = $('result');
  region.setAttribute('aria-busy', 'true');
  region.dataset.state = 'running';
  $('run').disabled = true;
  $('stop').hidden = false;
  $('run-status').textContent = 'Running…';
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
  try {
    let outcome;
    if (panel.run) {
      outcome = await panel.run({ model, values, request, signal, output });
    } else {
      const { answer, ms, timing } = await infer(model.name, request, { signal });
      outcome = { node: panel.render(answer, values), ms, timing };
    }
    if (outcome.node) replace(output, outcome.node);
    $('run-status').textContent =
      `${panel.title} · answered in ${formatMs(outcome.ms)}${outcome.note ? ` (${outcome.note})` : ''}` +
      timingText(outcome.timing);
    region.dataset.state = 'done';
  } catch (error) {
    const stopped = controller.signal.aborted;
    $('run-status').textContent = stopped ? 'Stopped.' : 'Failed.';
    const partial = output.querySelector('#gen-output');
    if (stopped && partial) output.querySelector('.cursor')?.remove();
    else replace(output, errorNode(error));
    region.dataset.state = 'error';
  } finally {
    state.running = undefined;
    region.setAttribute('aria-busy', 'false');
    $('stop').hidden = true;
    updateAvailability();
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  const key = $('api-key');
  key.value = getApiKey();
  key.addEventListener('input', () => {
    setApiKey(key.value.trim());
    updateCurl();
  });
  key.addEventListener('change', () => void poll());
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void poll();
  });
  const toggle = $('api-key-toggle');
  toggle.addEventListener('click', () => {
    const show = key.type === 'password';
    key.type = show ? 'text' : 'password';
    toggle.setAttribute('aria-pressed', String(show));
    toggle.textContent = show ? 'Hide' : 'Show';
  });

  $('model-select').addEventListener('change', (event) => selectModel(event.target.value));
  $('task-select').addEventListener('change', (event) => {
    saveValues();
    state.task = event.target.value;
    renderForm();
    updateAvailability();
    updateHash();
  });

  const form = $('try-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  form.addEventListener('input', (event) => {
    if (event.target.closest('#fields')) updateCurl();
  });
  form.addEventListener('keydown', (event) => {
    const target = event.target;
    if (event.key !== 'Enter' || event.isComposing || target.tagName !== 'TEXTAREA') return;
    const submits = target.dataset.enter === 'submit' ? !event.shiftKey : event.ctrlKey || event.metaKey;
    if (submits) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $('stop').addEventListener('click', () => state.running?.abort());
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && state.running) state.running.abort();
  });
  $('copy-curl').addEventListener('click', () => void copyCurl());
  // A link to #model=NAME&task=TASK picks that panel, also from the page itself.
  window.addEventListener('hashchange', () => {
    const wanted = new URLSearchParams(location.hash.slice(1));
    const name = wanted.get('model');
    if (name && state.models.some((m) => m.name === name)) selectModel(name);
    const task = wanted.get('task');
    if (task && task !== state.task && [...$('task-select').options].some((o) => o.value === task)) {
      saveValues();
      state.task = task;
      $('task-select').value = task;
      renderForm();
      updateAvailability();
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) void poll();
  });
}

wire();
void poll();
