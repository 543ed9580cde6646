// Models from the Hub, end to end: a real server (and the real CLI) downloading from the mock Hub into
// an empty Hugging Face cache, serving from that cache offline, and reporting the Hub's failures per
// model while the other models keep answering.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, mock } from 'node:test';
import type { ModelConfigEntry } from '../../src/config/schema.ts';
import type { HubSettings } from '../../src/hub/index.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { type MockHub, startMockHub } from '../support/mock-hub.ts';
import { serve, type TestServer } from '../support/server.ts';

const REPO = 'hubserve-test/tiny-sentiment';
const GATED = 'hubserve-test/gated-sentiment';
const NO_ONNX = 'hubserve-test/no-onnx';
const TOKEN = 'hf_hubservee2etesttoken';
const FOLDER = 'models--hubserve-test--tiny-sentiment';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POSITIVE = { inputs: 'I love this wonderful film' };

mock.method(console, 'debug', () => undefined); // @huggingface/hub logs each file it downloads

// Cleanup at file level: an after() registered inside a before() hook would run as soon as it ends.
const temps: string[] = [];
const servers: TestServer[] = [];
const hubs: MockHub[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.allSettled(servers.map((s) => s.close()));
  await Promise.allSettled(hubs.map((h) => h.close()));
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `hubserve-e2e-${prefix}-`));
  temps.push(dir);
  return dir;
}

async function startHub(repos: Parameters<typeof startMockHub>[0]['repos']): Promise<MockHub> {
  const hub = await startMockHub({ repos, token: TOKEN });
  hubs.push(hub);
  return hub;
}

/**
 * A server (closed at the end of the file, or earlier with `stop`). No token unless given: not even one
 * that `hf auth login` stored on this machine.
 */
async function start(models: ModelConfigEntry[], hub: Partial<HubSettings>): Promise<TestServer> {
  const server = await serve(models, { hub: { token: undefined, ...hub } });
  servers.push(server);
  return server;
}

async function stop(server: TestServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

const hubModel = (name: string, source: string, extra: Partial<ModelConfigEntry> = {}): ModelConfigEntry => ({
  name,
  source,
  ...extra,
});

interface ModelView {
  name: string;
  state: string;
  task?: string;
  dtype: string;
  revision?: string;
  commit?: string;
  error?: { code: string; message: string };
}

async function getJson(url: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as unknown, headers: response.headers };
}

async function modelView(server: TestServer, name: string): Promise<ModelView> {
  const { status, body } = await getJson(`${server.url}/models/${name}`);
  assert.equal(status, 200, JSON.stringify(body));
  return body as ModelView;
}

/** POSTs the positive sentence and asserts a 200 with POSITIVE on top. */
async function classifiesPositive(server: TestServer, name: string): Promise<void> {
  const response = await server.post(`/models/${name}`, POSITIVE);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const [[top] = []] = response.body as { label: string; score: number }[][];
  assert.equal(top?.label, 'POSITIVE', JSON.stringify(response.body));
}

/** The model is listed as failed with `code`; its message matches every pattern. */
async function failedWith(
  server: TestServer,
  name: string,
  code: string,
  ...patterns: RegExp[]
): Promise<void> {
  const view = await modelView(server, name);
  assert.equal(view.state, 'failed', JSON.stringify(view));
  assert.equal(view.error?.code, code, JSON.stringify(view));
  for (const pattern of patterns) assert.match(view.error?.message ?? '', pattern);
}

const fileDownloads = (hub: MockHub): string[] =>
  hub.requests.filter((r) => r.method === 'GET' && r.path.includes('/resolve/')).map((r) => r.path);

/** A copy of a model folder with another README, so that it is another commit. */
function modelCopy(source: string, prefix: string): string {
  const dir = join(tempDir(prefix), 'model');
  cpSync(source, dir, { recursive: true });
  appendFileSync(join(dir, 'README.md'), '\nRevision v1.\n');
  return dir;
}

/** A transformers repo without ONNX weights (config and tokenizer only), as many PyTorch-only repos are. */
function noOnnxFixture(source: string): string {
  const dir = join(tempDir('no-onnx'), 'model');
  mkdirSync(dir);
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    copyFileSync(join(source, file), join(dir, file));
  }
  return dir;
}

describe('a Hub model into an empty cache, then served from it', () => {
  let hub: MockHub;
  let cacheDir: string;
  let server: TestServer | undefined;

  before(async () => {
    const dir = testModelPath(REPO);
    hub = await startHub({ [REPO]: { dir, revisions: { v1: modelCopy(dir, 'v1') } } });
    cacheDir = tempDir('cache');
  });

  it('downloads into the Hugging Face cache layout and serves it', async () => {
    server = await start([hubModel(REPO, REPO)], { endpoint: hub.url, cacheDir, offline: false });
    const commit = hub.sha(REPO);
    await classifiesPositive(server, REPO);
    const view = await modelView(server, REPO);
    assert.equal(view.state, 'ready', JSON.stringify(view));
    assert.equal(view.task, 'text-classification');
    assert.equal(view.revision, 'main');
    assert.equal(view.commit, commit);

    const repoDir = join(cacheDir, FOLDER);
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), commit);
    const snapshot = join(repoDir, 'snapshots', commit);
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) {
      assert.ok(lstatSync(join(snapshot, file)).isSymbolicLink(), `${file} links into blobs/`);
    }
    // Only what the model loads: no other dtype's weights, no README.
    assert.ok(!existsSync(join(snapshot, 'onnx/model_quantized.onnx')), 'q8 weights not fetched');
    assert.ok(!existsSync(join(snapshot, 'README.md')), 'README.md not fetched');
  });

  it('serves one repo at two revisions and two dtypes in one server (shared blobs fetched at once)', async () => {
    const shared = tempDir('cache');
    const both = await start(
      [
        hubModel('sentiment', REPO),
        hubModel('sentiment-v1', `${REPO}@v1`),
        hubModel('sentiment-q8', REPO, { dtype: 'q8' }),
      ],
      { endpoint: hub.url, cacheDir: shared, offline: false },
    );
    const main = hub.sha(REPO);
    const v1 = hub.sha(REPO, 'v1');
    assert.notEqual(main, v1, 'the v1 fixture is another commit');
    const states = Object.fromEntries(
      ((await getJson(`${both.url}/models`)).body as { models: ModelView[] }).models.map((m) => [
        m.name,
        m.error ? `${m.state}: ${m.error.code}: ${m.error.message}` : m.state,
      ]),
    );
    assert.deepEqual(states, { sentiment: 'ready', 'sentiment-v1': 'ready', 'sentiment-q8': 'ready' });
    const tagged = await modelView(both, 'sentiment-v1');
    assert.equal(tagged.revision, 'v1');
    assert.equal(tagged.commit, v1);
    assert.equal(readFileSync(join(shared, FOLDER, 'refs', 'v1'), 'utf8'), v1);
    for (const name of ['sentiment', 'sentiment-v1', 'sentiment-q8']) await classifiesPositive(both, name);
    await stop(both);
  });

  it('restarts offline, with the Hub gone, from the cache alone', async () => {
    assert.ok(server, 'the first server started');
    await stop(server);
    await hub.close();
    hubs.splice(hubs.indexOf(hub), 1);

    const commit = hub.sha(REPO);
    const offline = await start(
      [
        hubModel(REPO, REPO),
        hubModel('pinned', `${REPO}@${commit}`),
        hubModel('never-pulled', 'hubserve-test/never-pulled'),
      ],
      { endpoint: hub.url, cacheDir, offline: true },
    );
    await classifiesPositive(offline, REPO);
    await classifiesPositive(offline, 'pinned');
    const view = await modelView(offline, REPO);
    assert.equal(view.state, 'ready', JSON.stringify(view));
    assert.equal(view.revision, 'main');
    assert.equal(view.commit, commit);
    assert.equal((await modelView(offline, 'pinned')).commit, commit);
    await failedWith(offline, 'never-pulled', 'not_cached', /hubserve pull hubserve-test\/never-pulled/);
    await stop(offline);

    // Online, but the Hub does not answer: the cache serves, as huggingface_hub does.
    const unreachable = await start([hubModel(REPO, REPO)], { endpoint: hub.url, cacheDir, offline: false });
    await classifiesPositive(unreachable, REPO);
    assert.equal((await modelView(unreachable, REPO)).commit, hub.sha(REPO));
    await stop(unreachable);
  });
});

describe('Hub failures, per model', () => {
  let hub: MockHub;

  before(async () => {
    const dir = testModelPath(REPO);
    hub = await startHub({
      [REPO]: { dir },
      [GATED]: { dir, gated: true },
      [NO_ONNX]: { dir: noOnnxFixture(dir) },
    });
  });

  it('a failed model is listed with its reason and answers 503, while the others serve', async () => {
    const server = await start(
      [
        hubModel(REPO, REPO),
        hubModel('bad-revision', `${REPO}@nope`),
        hubModel('unknown', 'hubserve-test/does-not-exist'),
        hubModel('no-onnx', NO_ONNX),
        hubModel('gated', GATED),
      ],
      { endpoint: hub.url, cacheDir: tempDir('cache'), offline: false },
    );
    await failedWith(server, 'bad-revision', 'revision_not_found', /"nope"/);
    await failedWith(server, 'unknown', 'repo_not_found', /hubserve-test\/does-not-exist/);
    await failedWith(
      server,
      'no-onnx',
      'no_onnx_weights',
      /has no ONNX weights/,
      /onnx-community\/|optimum-cli export onnx/,
    );
    await failedWith(server, 'gated', 'gated_repo', /accept its conditions/, /set HF_TOKEN/);

    const ready = await getJson(`${server.url}/ready`);
    assert.equal(ready.status, 503, JSON.stringify(ready.body));
    assert.deepEqual((ready.body as { models: Record<string, string> }).models, {
      [REPO]: 'ready',
      'bad-revision': 'failed',
      unknown: 'failed',
      'no-onnx': 'failed',
      gated: 'failed',
    });
    const list = await getJson(`${server.url}/models`);
    assert.equal((list.body as { models: ModelView[] }).models.length, 5, JSON.stringify(list.body));

    await classifiesPositive(server, REPO);

    // A failed model refuses requests as not ready (whatever the body), and says so for retries.
    for (const name of ['bad-revision', 'unknown', 'no-onnx', 'gated']) {
      const refused = await server.post(`/models/${name}`, POSITIVE);
      assert.equal(refused.status, 503, `${name}: ${JSON.stringify(refused.body)}`);
      assert.equal((refused.body as { error: { code: string } }).error.code, 'model_not_ready');
      assert.equal(refused.headers.get('retry-after'), '1');
    }
    await classifiesPositive(server, REPO);
    await stop(server);
  });

  it('a gated repo loads with the right token', async () => {
    const server = await start([hubModel('gated', GATED)], {
      endpoint: hub.url,
      cacheDir: tempDir('cache'),
      token: TOKEN,
      offline: false,
    });
    assert.equal((await modelView(server, 'gated')).state, 'ready');
    await classifiesPositive(server, 'gated');
    await stop(server);
  });

  it('dtype q8 downloads only the quantized weights, and serves them', async () => {
    hub.requests.length = 0;
    const cacheDir = tempDir('cache');
    const server = await start([hubModel(REPO, REPO, { dtype: 'q8' })], {
      endpoint: hub.url,
      cacheDir,
      offline: false,
    });
    const view = await modelView(server, REPO);
    assert.equal(view.state, 'ready', JSON.stringify(view));
    assert.equal(view.dtype, 'q8');
    await classifiesPositive(server, REPO);
    const paths = hub.requests.map((r) => r.path);
    const downloads = fileDownloads(hub);
    assert.ok(
      downloads.some((p) => p.endsWith('/onnx/model_quantized.onnx')),
      `quantized weights fetched: ${downloads.join(', ')}`,
    );
    assert.ok(
      !paths.some((p) => p.endsWith('/onnx/model.onnx')),
      `fp32 weights untouched: ${paths.join(', ')}`,
    );
    const snapshot = join(cacheDir, FOLDER, 'snapshots', hub.sha(REPO));
    assert.ok(existsSync(join(snapshot, 'onnx/model_quantized.onnx')), 'q8 weights in the snapshot');
    assert.ok(!existsSync(join(snapshot, 'onnx/model.onnx')), 'no fp32 weights in the snapshot');
    await stop(server);
  });
});

describe('the hubserve CLI as a process', () => {
  let hub: MockHub;
  const cacheDir = tempDir('cli-cache');
  const home = tempDir('cli-home'); // HF_HOME: no stored token from this machine
  const cwd = tempDir('cli-cwd'); // no ./hubserve.yaml of the repository

  before(async () => {
    hub = await startHub({ [REPO]: { dir: testModelPath(REPO) } });
  });

  /** The environment of a user with only these Hub settings (none inherited from the test machine). */
  const cliEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (/^(HF_|HUGGING_FACE_|HUGGINGFACE_|HUBSERVE_|TRANSFORMERS_|NODE_TEST_)/.test(key)) continue;
      env[key] = value;
    }
    return { ...env, HF_HOME: home, HF_HUB_CACHE: cacheDir, HF_ENDPOINT: hub.url, ...extra };
  };

  const hubserve = (args: string[], env: NodeJS.ProcessEnv): ChildProcess => {
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...args],
      { cwd, env: { ...env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') }, stdio: 'pipe' },
    );
    children.push(child);
    return child;
  };

  interface Exit {
    code: number | null;
    signal: string | null;
  }

  const exited = (child: ChildProcess, ms: number): Promise<Exit> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve({ code: child.exitCode, signal: child.signalCode });
        return;
      }
      const timer = setTimeout(() => reject(new Error(`hubserve did not exit within ${ms} ms`)), ms);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });

  const collect = (child: ChildProcess): { stdout: () => string; stderr: () => string } => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    return { stdout: () => stdout, stderr: () => stderr };
  };

  it('pull downloads into HF_HUB_CACHE, logging plain lines when not on a terminal', async () => {
    const pull = hubserve(['pull', REPO, '--dtype', 'q8'], cliEnv({}));
    const pulled = collect(pull);
    const pullExit = await exited(pull, 60_000);
    const output = `stdout:\n${pulled.stdout()}\nstderr:\n${pulled.stderr()}`;
    assert.deepEqual(pullExit, { code: 0, signal: null }, output);
    const snapshot = join(cacheDir, FOLDER, 'snapshots', hub.sha(REPO));
    assert.ok(pulled.stdout().includes(`${REPO} -> ${snapshot}\n`), `stdout names the snapshot: ${output}`);
    assert.match(pulled.stderr(), /^downloading hubserve-test\/tiny-sentiment config\.json \(/m, output);
    assert.match(pulled.stderr(), /^downloading hubserve-test\/tiny-sentiment onnx\/model_quantized\.onnx/m);
    assert.match(
      pulled.stderr(),
      /^downloaded hubserve-test\/tiny-sentiment onnx\/model_quantized\.onnx in /m,
    );
    assert.ok(!pulled.stderr().includes('\u001b['), `no terminal escape codes on a pipe: ${output}`);
    assert.ok(existsSync(join(snapshot, 'onnx/model_quantized.onnx')), 'q8 weights in the cache');
    assert.ok(!existsSync(join(snapshot, 'onnx/model.onnx')), 'fp32 weights not pulled');
    // stdout is the result alone, for scripts to read: the logs go to stderr.
    assert.deepEqual(pulled.stdout().trim().split('\n'), [`${REPO} -> ${snapshot}`], output);
  });

  it('serve, offline from what pull fetched, answers and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const requestsBefore = hub.requests.length;
    const server = hubserve(
      // Both ports free ones: 8080 and 8081 may be another program's.
      [
        'serve',
        REPO,
        '--dtype',
        'q8',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--management-port',
        String(await freePort()),
      ],
      cliEnv({ HF_HUB_OFFLINE: '1' }),
    );
    const served = collect(server);
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url, server, 60_000, () => `stdout:\n${served.stdout()}\nstderr:\n${served.stderr()}`);
    const response = await fetch(`${url}/models/${REPO}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(POSITIVE),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { label: string }[][];
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body[0]?.[0]?.label, 'POSITIVE', JSON.stringify(body));
    assert.equal(hub.requests.length, requestsBefore, 'offline: not one request to the Hub');

    server.kill('SIGTERM');
    const serverExit = await exited(server, 20_000);
    assert.deepEqual(serverExit, { code: 0, signal: null }, served.stderr());
    assert.match(served.stdout(), /model hubserve-test\/tiny-sentiment ready/);
  });
});

/** A port free on loopback right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** Polls GET /ready until 200; fails early if the process exits, and after `ms`. */
async function waitReady(url: string, child: ChildProcess, ms: number, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      assert.fail(`hubserve serve exited (${child.exitCode ?? child.signalCode}) before ready:\n${output()}`);
    }
    const status = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      async (r) => {
        await r.body?.cancel();
        return r.status;
      },
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) assert.fail(`hubserve serve not ready within ${ms} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
