// The web playground at / in real headless Chromium (Debian's chromium driven by playwright-core):
// it loads cleanly, lists the models, and shows what the API answers for classification, NER, a
// streamed generation and embeddings, with a curl line that makes the same request; keyboard only
// and on a phone too. Screenshots go to test-artifacts/playground/.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { newKey } from '../../src/auth/keys.ts';
import { registerErrorHandling } from '../../src/http/errors.ts';
import { playgroundRoutes } from '../../src/http/playground.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';
import { parseCurl } from './curl.ts';

const CHROMIUM = process.env.HUBSERVE_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.HUBSERVE_REQUIRE_BROWSER === '1';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/playground/', import.meta.url));
/** The machine has no network: without these, Chromium keeps trying to reach Google's services. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const skip =
  !existsSync(CHROMIUM) && !REQUIRED
    ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set HUBSERVE_CHROMIUM); ` +
      'HUBSERVE_REQUIRE_BROWSER=1 makes this a failure'
    : false;

interface ServedModel {
  name: string;
  state: string;
  task?: string;
  error?: { code: string; message: string };
}

let server: TestServer;
let browser: Browser;
let page: Page;
let metricsServed = false;
const problems: string[] = [];

after(async () => {
  // Either may be missing when before() failed or the suite was skipped.
  await (browser as Browser | undefined)?.close().catch(() => undefined);
  await (server as TestServer | undefined)?.close();
});

/** Chromium logs a failed fetch as a console error; a server without /metrics is allowed one. */
function watch(p: Page): void {
  p.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  p.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location().url;
    if (!metricsServed && /\/metrics$/.test(url) && /404/.test(message.text())) return;
    problems.push(`console error: ${message.text()} (${url})`);
  });
}

const ok = async (name: string, body: unknown): Promise<unknown> => {
  const response = await server.post(`/models/${name}`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

/**
 * Waits until the try-it panel is the model's. (Locators, not waitForFunction with a string: that
 * polls with eval, which the page's CSP refuses, as it should.)
 */
const described = (p: Page, model: string) =>
  p.locator('#panel-description', { hasText: new RegExp(` with ${model}$`) }).waitFor();

/** Chooses a model in the try-it panel and fills its fields. */
async function prepare(model: string, fields: Record<string, string>): Promise<void> {
  await page.selectOption('#model-select', model);
  await described(page, model);
  for (const [name, value] of Object.entries(fields)) await page.fill(`#field-${name}`, value);
}

/** Runs the panel and waits for its answer. */
async function run(): Promise<void> {
  await page.click('#run');
  await page.waitForSelector('#result-region[data-state="done"], #result-region[data-state="error"]');
  const state = await page.getAttribute('#result-region', 'data-state');
  assert.equal(state, 'done', `the run failed: ${await page.textContent('#result')}`);
}

interface Shown {
  data: Record<string, string>;
  text: string;
  /** The element's first child's text (a mark's text without its label). */
  first: string;
}

/** The data-* attributes and texts of what a selector matches. The test has no DOM types: a string. */
async function shown(p: Page, selector: string): Promise<Shown[]> {
  return (await p.evaluate(
    `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => ({
      data: { ...e.dataset }, text: e.textContent ?? '', first: e.firstChild?.textContent ?? '' }))`,
  )) as Shown[];
}

const shot = (p: Page, name: string) => p.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

describe('GET / and /playground/{file} (no browser needed)', () => {
  it('serves the page and every module it imports, with their types and a strict CSP', async () => {
    const app = Fastify();
    registerErrorHandling(app);
    await app.register(playgroundRoutes);
    try {
      const page = await app.inject('/');
      assert.equal(page.statusCode, 200, 'GET / is the page');
      assert.match(String(page.headers['content-type']), /^text\/html/);
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/, `a strict CSP: ${csp}`);
      assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), 'no inline script or eval allowed');
      assert.ok(!/<script(?![^>]*\bsrc=)/.test(page.body), 'no inline script in the page');
      assert.ok(!/\sstyle=|<style/.test(page.body), 'no inline style in the page');
      // Every file the page and its modules name is served, with its type.
      const types: Record<string, RegExp> = {
        js: /^text\/javascript/,
        css: /^text\/css/,
        svg: /^image\/svg\+xml/,
      };
      const queue = [...page.body.matchAll(/(?:src|href)="\/playground\/([^"]+)"/g)].map((m) => m[1] ?? '');
      const seen = new Set<string>();
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        if (seen.has(file)) continue;
        seen.add(file);
        const asset = await app.inject(`/playground/${file}`);
        assert.equal(asset.statusCode, 200, `/playground/${file} is served`);
        const ext = file.split('.').pop() ?? '';
        assert.match(String(asset.headers['content-type']), types[ext] ?? /^$/, `${file}'s content type`);
        if (ext === 'js')
          queue.push(...[...asset.body.matchAll(/from '\.\/([^']+)'/g)].map((m) => m[1] ?? ''));
        const etag = String(asset.headers.etag);
        const again = await app.inject({ url: `/playground/${file}`, headers: { 'if-none-match': etag } });
        assert.equal(again.statusCode, 304, `${file} is not sent again while unchanged`);
      }
      assert.ok(seen.has('app.js') && seen.has('style.css') && seen.has('metrics.js'), [...seen].join(', '));
      for (const path of [
        '/playground/..%2Fapi.js',
        '/playground/..%2F..%2Fpackage.json',
        '/playground/%2E%2E%2F%2E%2E%2Fsrc%2Fhttp%2Fapp.ts',
        '/playground/.env',
        '/playground/APP.JS',
        '/playground/app.js%00.css',
        '/playground/',
      ]) {
        const refused = await app.inject(path);
        assert.equal(refused.statusCode, 404, `${path} is refused`);
        assert.equal(refused.json().error.code, 'not_found', `${path}: the error contract`);
      }
      assert.equal((await app.inject('/../package.json')).statusCode, 404, 'nothing else is served');
    } finally {
      await app.close();
    }
  });
});

describe('the playground in Chromium', { skip, timeout: 180_000 }, () => {
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `HUBSERVE_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}`);
    await mkdir(ARTIFACTS, { recursive: true });
    server = await serve([
      tiny('sentiment', 'hubserve-test/tiny-sentiment'),
      tiny('ner', 'hubserve-test/tiny-ner'),
      tiny('gpt2', 'hubserve-test/tiny-gpt2'),
      tiny('qa', 'hubserve-test/tiny-qa'),
      tiny('embeddings', 'hubserve-test/tiny-embeddings'),
      tiny('canary', 'hubserve-test/tiny-sentiment', { version: '1' }),
      tiny('canary', 'hubserve-test/tiny-sentiment', { version: '2' }),
      { name: 'broken', source: fileURLToPath(new URL('./no-such-model/', import.meta.url)) },
    ]);
    metricsServed = (await fetch(`${server.url}/metrics`)).status === 200;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    watch(page);
  });

  it('loads with a strict CSP and lists every model with its state and task', async () => {
    const response = await page.goto(`${server.url}/`);
    assert.equal(response?.status(), 200, 'GET / answers the page');
    assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'self'/, 'a strict CSP');
    const { models: listed } = (await (await fetch(`${server.url}/models`)).json()) as {
      models: (ServedModel & { version: string })[];
    };
    // A name with several versions is shown, and run, as name@version: a row per version.
    const models = listed.map((m) => (m.name === 'canary' ? { ...m, name: `${m.name}@${m.version}` } : m));
    await page.waitForSelector(`#models-body tr[data-model="broken"]`);
    for (const model of models) {
      const row = page.locator(`#models-body tr[data-model="${model.name}"]`);
      assert.equal(await row.getAttribute('data-state'), model.state, `${model.name}'s state`);
      const text = (await row.textContent()) ?? '';
      assert.ok(text.includes(model.state), `${model.name} shows its state "${model.state}": ${text}`);
      if (model.task) assert.ok(text.includes(model.task), `${model.name} shows its task ${model.task}`);
      if (model.error) {
        const reason = await page.textContent(`#models-body tr[data-detail-for="${model.name}"]`);
        assert.ok(reason?.includes(model.error.message), `${model.name} shows why it failed: ${reason}`);
      }
    }
    assert.equal(await page.locator('#models-body tr[data-model]').count(), models.length, 'a row per model');
    assert.ok(
      await page.locator('tr[data-model="broken"] button').isDisabled(),
      'a failed model cannot be tried',
    );
    // The metrics poll has answered once the summary says how the metrics stand.
    await page
      .locator('#live-summary', { hasText: / · (metrics unavailable|live)/ })
      .waitFor({ timeout: 10_000 });
    const summary = (await page.textContent('#live-summary')) ?? '';
    assert.ok(
      metricsServed ? summary.includes('live') : summary.includes('metrics unavailable'),
      `the summary says how the metrics stand: ${summary}`,
    );
    await shot(page, 'desktop-models');
  });

  it('a failed model shows its state and reason in the try-it panel, and cannot run', async () => {
    await page.selectOption('#model-select', 'broken');
    const note = (await page.textContent('#model-note')) ?? '';
    assert.match(note, /failed to load/, `the panel says the model failed: ${note}`);
    assert.ok(await page.locator('#run').isDisabled(), 'Run is disabled for a failed model');
  });

  it('text classification: score bars with the labels and scores the API answers', async () => {
    const text = 'The food was terrible but the staff were lovely';
    await prepare('sentiment', { text });
    await run();
    const expected = ((await ok('sentiment', { inputs: text })) as { label: string; score: number }[][])[0];
    const bars = await shown(page, '#result .bars li');
    assert.deepEqual(
      bars.map(({ data }) => ({ label: data.label, score: Number(data.score) })),
      expected,
      'the bars are the API answer',
    );
    const written = await shown(page, '#result .bars li .bar-value');
    assert.ok(
      written.length === bars.length && written.every((w) => /^[\d.]+%$/.test(w.text)),
      `every bar has its number written next to it: ${written.map((w) => w.text).join(', ')}`,
    );
    assert.match((await page.textContent('#run-status')) ?? '', /answered in [\d.]+ (ms|s)/, 'latency shown');
    await shot(page, 'desktop-classification');
  });

  it('the curl line makes the same request, Copy copies it, and an API key is sent but never shown', async () => {
    const line = (await page.textContent('#curl-line')) ?? '';
    await page.click('#copy-curl');
    await page.locator('#copy-status', { hasText: /^Copied$/ }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), line, 'Copy copies the line');
    const curl = parseCurl(line);
    assert.equal(curl.url, `${server.url}/models/sentiment`);
    assert.equal(curl.headers['content-type'], 'application/json');
    const text = await page.inputValue('#field-text');
    assert.deepEqual(JSON.parse(curl.body ?? ''), { inputs: text }, 'the body is the form');
    const answered = await fetch(curl.url, { method: curl.method, headers: curl.headers, body: curl.body });
    const bars = await shown(page, '#result .bars li');
    assert.deepEqual(
      [(await answered.json()) as unknown].flat(2),
      bars.map(({ data }) => ({ label: data.label, score: Number(data.score) })),
      'the line answers what the page shows',
    );

    // With an API key: the page sends it; the line reads it from the environment.
    const key = 'sk-test-not-shown-1234';
    await page.fill('#api-key', key);
    const curlWithKey = (await page.textContent('#curl-line')) ?? '';
    assert.ok(!curlWithKey.includes(key), 'the key itself is never in the curl line');
    assert.equal(
      parseCurl(curlWithKey).headers.authorization,
      'Bearer $HUBSERVE_API_KEY',
      `the curl line names the key's variable: ${curlWithKey}`,
    );
    const sent = page.waitForRequest((r) => r.url().endsWith('/models/sentiment') && r.method() === 'POST');
    await run();
    assert.equal((await sent).headers()['authorization'], `Bearer ${key}`, 'the request carries the key');
    assert.equal(
      await page.evaluate(`sessionStorage.getItem('hubserve.apiKey')`),
      key,
      'the key is remembered for the tab',
    );
    await page.fill('#api-key', '');
  });

  it('NER: the entities the API returns are highlighted in the text', async () => {
    const text = 'Yesterday Alice Smith moved to Paris to work for Google.';
    await prepare('ner', { text });
    await run();
    const expected = (await ok('ner', { inputs: text })) as {
      entity_group: string;
      start: number;
      end: number;
    }[];
    assert.ok(expected.length >= 2, 'the tiny NER model finds entities');
    const marks = await shown(page, '#result mark.entity');
    assert.deepEqual(
      marks.map(({ data, first }) => ({
        label: data.label,
        start: Number(data.start),
        end: Number(data.end),
        text: first,
      })),
      expected.map((e) => ({
        label: e.entity_group,
        start: e.start,
        end: e.end,
        text: text.slice(e.start, e.end),
      })),
      'one mark per entity, on its characters, with its label',
    );
    const paragraph = (await page.textContent('#result .entities-text')) ?? '';
    assert.ok(
      expected.every((e) => paragraph.includes(`${text.slice(e.start, e.end)} ${e.entity_group}`)),
      `each label is written next to its entity: ${paragraph}`,
    );
    await shot(page, 'desktop-ner');
  });

  it('streamed generation: tokens appear one by one and end with the greedy answer', async () => {
    const prompt = 'Once upon a';
    await prepare('gpt2', { text: prompt, max_new_tokens: '24' });
    assert.ok(await page.isChecked('#field-stream'), 'streaming is on by default');
    // Records each token the page adds to the output, and whether the run was still going then.
    await page.evaluate(`
      window.seen = [];
      new MutationObserver((records) => {
        const running = document.querySelector('#result-region').dataset.state === 'running';
        for (const record of records) {
          if (record.target.id !== 'gen-output') continue;
          for (const node of record.addedNodes) window.seen.push({ token: node.textContent ?? '', running });
        }
      }).observe(document.querySelector('#result'), { childList: true, subtree: true });
    `);
    const line = (await page.textContent('#curl-line')) ?? '';
    assert.ok(parseCurl(line).flags.includes('-sN'), `a streamed curl line does not buffer: ${line}`);
    assert.equal(JSON.parse(parseCurl(line).body ?? '{}').stream, true, 'the curl line asks for a stream');
    await run();
    const expected = (
      (await ok('gpt2', { inputs: prompt, parameters: { max_new_tokens: 24 } })) as {
        generated_text: string;
      }[]
    )[0]?.generated_text;
    assert.ok(expected, 'the API generates text');
    const final = await page.textContent('#gen-output');
    assert.equal(final, expected, 'the streamed text is the non-streamed greedy answer');
    const seen = (await page.evaluate('window.seen')) as { token: string; running: boolean }[];
    // The text as it stood after each token: every one a step towards the final answer.
    const states = seen.map((_, i) =>
      seen
        .slice(0, i + 1)
        .map((s) => s.token)
        .join(''),
    );
    assert.ok(seen.length >= 2, `the text grew token by token: ${JSON.stringify(seen)}`);
    assert.ok(
      seen.every((s) => s.running),
      'tokens were shown while the generation was still running',
    );
    assert.ok(
      states.every(
        (text, i) => expected.startsWith(text) && (i === 0 || text.length > (states[i - 1]?.length ?? 0)),
      ),
      `each state is a longer prefix of the answer: ${JSON.stringify(states)}`,
    );
    assert.equal(states.at(-1), expected, 'the tokens add up to the answer');
    assert.match((await page.textContent('#result .gen-stats')) ?? '', /tokens\/s/, 'throughput shown');
    await shot(page, 'desktop-generation');
  });

  it('embeddings: a similarity matrix of the cosines of the vectors the API returns', async () => {
    const texts = ['A cat sits on the mat', 'My kitten sleeps', 'Stocks fell sharply'];
    await prepare('embeddings', { texts: texts.join('\n') });
    await run();
    const vectors = (await ok('embeddings', { inputs: texts })) as number[][];
    const cos = (a: number[], b: number[]) => {
      const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * (y[i] ?? 0), 0);
      return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
    };
    const cells = (await page.evaluate(
      `[...document.querySelectorAll('#result table.similarity tbody tr')]
        .map((row) => [...row.querySelectorAll('td')].map((td) => Number(td.dataset.value)))`,
    )) as number[][];
    assert.equal(cells.length, texts.length, 'one row per sentence');
    cells.forEach((row, i) =>
      row.forEach((value, j) =>
        assert.ok(
          Math.abs(value - cos(vectors[i] ?? [], vectors[j] ?? [])) < 1e-9,
          `cell ${i},${j} is the cosine of the API's vectors`,
        ),
      ),
    );
    await shot(page, 'desktop-embeddings');
  });

  it('live metrics: requests per second and latency per model, from GET /metrics', async (t) => {
    if (!metricsServed) {
      t.skip('this server has no /metrics; the page says "metrics unavailable" (checked above)');
      return;
    }
    // Traffic from outside the page shows up in the sentiment row within a poll or two.
    const rps = () => page.textContent('#models-body tr[data-model="sentiment"] td[data-label="Requests/s"]');
    const deadline = Date.now() + 15_000;
    let shown = 0;
    while (Date.now() < deadline && !(shown > 0)) {
      await Promise.all(Array.from({ length: 8 }, () => ok('sentiment', { inputs: 'What a great team' })));
      await new Promise((resolve) => setTimeout(resolve, 250));
      shown = Number.parseFloat((await rps()) ?? '');
    }
    assert.ok(shown > 0, `the sentiment row shows its requests per second: ${await rps()}`);
    const latency = await page.textContent(
      '#models-body tr[data-model="sentiment"] td[data-label="Latency"]',
    );
    assert.match(
      latency ?? '',
      /^[\d.]+ (ms|s)p50 [\d.]+ (ms|s)p95 [\d.]+ (ms|s)$/,
      'mean, p50 and p95 latency',
    );
    assert.match((await page.textContent('#live-summary')) ?? '', /[\d.]+ requests\/s in all/, 'throughput');
    await shot(page, 'desktop-metrics');
  });

  it('the metrics parser reads the Prometheus text format and rates an interval', async () => {
    // A string, not a function: tsx's helpers (__name) do not exist in the page.
    const scrape = (n: number, sum: number, fast: number) =>
      [
        '# HELP hubserve_requests_total Requests.',
        '# TYPE hubserve_requests_total counter',
        `hubserve_requests_total{model="sentiment",task="text-classification",status="200"} ${n}`,
        'hubserve_requests_total{model="sentiment",task="text-classification",status="503"} 1',
        'hubserve_requests_total{model="a \\"quoted\\" name",task="x",status="200"} 3',
        `hubserve_request_duration_seconds_bucket{model="sentiment",task="text-classification",le="0.01"} ${fast}`,
        `hubserve_request_duration_seconds_bucket{model="sentiment",task="text-classification",le="0.1"} ${n}`,
        `hubserve_request_duration_seconds_bucket{model="sentiment",task="text-classification",le="+Inf"} ${n}`,
        `hubserve_request_duration_seconds_sum{model="sentiment",task="text-classification"} ${sum}`,
        `hubserve_request_duration_seconds_count{model="sentiment",task="text-classification"} ${n}`,
      ].join('\n');
    const result = (await page.evaluate(`(async () => {
      const m = await import('/playground/metrics.js');
      const before = m.summarize(m.parsePrometheus(${JSON.stringify(scrape(10, 0.1, 10))}));
      const now = m.summarize(m.parsePrometheus(${JSON.stringify(scrape(30, 0.5, 20))}));
      return { r: m.rates(before, now, 2).get('sentiment'), quoted: now.has('a "quoted" name') };
    })()`)) as { r: Record<string, number>; quoted: boolean };
    assert.ok(result.quoted, 'escaped label values are read');
    const near = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) < 1e-9;
    assert.ok(near(result.r.rps, 10), `20 requests in 2 s: ${JSON.stringify(result.r)}`);
    assert.ok(near(result.r.errorsPerSecond, 0), 'no new errors in the interval');
    assert.ok(near(result.r.meanMs, 20), '0.4 s over 20 requests');
    assert.ok(near(result.r.p50Ms, 10), 'half of them within 10 ms');
    assert.ok(near(result.r.p95Ms, 91), 'p95 interpolated within its bucket');
  });

  it('works by keyboard alone: choose a model, fill its fields, press Enter', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#models-body tr[data-model="qa"]');
    const focused = () => page.evaluate(`document.activeElement?.id ?? ''`);
    let presses = 0;
    while ((await focused()) !== 'model-select' && presses++ < 40) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'model-select', 'Tab reaches the model picker');
    const visible = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    assert.notEqual(visible, 'none', 'the focused control has a visible outline');
    await page.keyboard.type('qa');
    await described(page, 'qa');
    await page.keyboard.press('Tab'); // the task picker is disabled (one task), so: the question
    assert.equal(await focused(), 'field-question', 'Tab goes on to the first field');
    const question = 'Who works for Google?';
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(question);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#result-region[data-state="done"]');
    const context = await page.inputValue('#field-context');
    const expected = (await ok('qa', { inputs: { question, context } })) as {
      answer: string;
      start: number;
      end: number;
    };
    const mark = page.locator('#result mark.answer');
    assert.equal(await mark.textContent(), expected.answer, 'the answer is highlighted in the context');
    assert.equal(Number(await mark.getAttribute('data-start')), expected.start, 'at its offsets');
    await shot(page, 'desktop-keyboard-qa');
  });

  it('reads on a 375 px phone: no sideways scrolling, every section there', async () => {
    const phone = await browser.newContext({
      viewport: { width: 375, height: 812 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    try {
      const p = await phone.newPage();
      watch(p);
      await p.goto(`${server.url}/#model=ner`);
      await p.waitForSelector('#models-body tr[data-model="ner"]');
      await p.click('#run');
      await p.waitForSelector('#result-region[data-state="done"]');
      const width = Number(await p.evaluate('document.documentElement.scrollWidth'));
      assert.ok(width <= 375, `the page fits the phone's width (scrollWidth ${width})`);
      assert.ok(await p.isVisible('#result mark.entity'), 'entities are shown on the phone');
      await shot(p, 'phone');
    } finally {
      await phone.close();
    }
  });

  it('had no console errors or page errors', () => {
    assert.deepEqual(problems, [], 'the page logged no errors');
  });

  it('works with an API key: without one it says so, with one it lists the models and runs them', async () => {
    const key = newKey();
    const keyed = await serve([tiny('sentiment', 'hubserve-test/tiny-sentiment')], {
      config: { api_keys: [{ name: 'browser', hash: key.hash, scopes: ['infer', 'metrics'] }] },
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15_000);
    try {
      // Not watched: the refused calls are logged by Chromium as failed loads, on purpose here.
      const p = await context.newPage();
      await p.goto(keyed.url);
      await p.locator('#models-error', { hasText: 'unauthorized' }).waitFor();
      await p.fill('#api-key', key.key);
      await p.press('#api-key', 'Enter');
      await p.waitForSelector('#models-body tr[data-model="sentiment"]');
      await p.selectOption('#model-select', 'sentiment');
      await described(p, 'sentiment');
      await p.fill('#field-text', 'I love it');
      await p.click('#run');
      await p.waitForSelector('#result-region[data-state="done"]');
      const expected = (await keyed.post(
        '/models/sentiment',
        { inputs: 'I love it' },
        { authorization: `Bearer ${key.key}` },
      )) as { body: { label: string }[][] };
      const bars = await shown(p, '#result .bars li');
      assert.deepEqual(
        bars.map(({ data }) => data.label),
        expected.body[0]?.map((b) => b.label),
        'the keyed run shows what the API answers',
      );
      await shot(p, 'desktop-api-key');
    } finally {
      await context.close();
      await keyed.close();
    }
  });
});
