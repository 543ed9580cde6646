// Faults survived with nothing lost: a worker killed while requests wait, a model that cannot load,
// and SIGTERM under load. Every request gets an answer or a clear JSON error; the server recovers
// or exits cleanly.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { spawnServer } from '../support/process.ts';
import { serve, tiny } from '../support/server.ts';

interface Outcome {
  status: number;
  code?: string;
}

/** A POST's status and error code; a connection cut without an answer throws (and fails the test). */
async function outcome(url: string, body: unknown): Promise<Outcome> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status === 200) return { status: 200 };
  const parsed = JSON.parse(text) as { error: { code: string } };
  return { status: response.status, code: parsed.error.code };
}

/** Waits until the model has received `inputs` inputs (queued, run or running): none still connecting. */
async function received(url: string, model: string, inputs: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const view = (await (await fetch(`${url}/models/${model}`)).json()) as {
      queue?: { queued: number; batched_inputs: number };
    };
    if ((view.queue?.queued ?? 0) + (view.queue?.batched_inputs ?? 0) >= inputs) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${model} never received ${inputs} inputs`);
}

const tally = (outcomes: Outcome[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.code ? `${o.status} ${o.code}` : String(o.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

describe('a worker killed while requests wait for it', () => {
  it('fails what it held with a clear 503, never a hang, and the model answers again', async () => {
    const server = await serve([
      tiny('fragile', 'hubserve-test/tiny-sentiment', { handler: 'test/support/crash-handler.ts' }),
    ]);
    after(() => server.close());
    const url = `${server.url}/models/fragile`;
    const texts = Array.from({ length: 30 }, (_, i) => (i === 5 ? 'crash' : `fine ${i}`));
    const outcomes = await Promise.all(texts.map((inputs) => outcome(url, { inputs })));
    const counts = tally(outcomes);
    // Held by the dead worker or waiting for it: worker_failed; arriving before its replacement is up:
    // model_not_ready. Both with Retry-After.
    const clear = ['200', '503 worker_failed', '503 model_not_ready'];
    assert.deepEqual(
      Object.keys(counts).filter((k) => !clear.includes(k)),
      [],
      `only answers or clear 503s: ${JSON.stringify(counts)}`,
    );
    assert.ok((counts['503 worker_failed'] ?? 0) >= 1, JSON.stringify(counts));
    let after2 = { status: 0 } as Outcome;
    for (let i = 0; i < 100 && after2.status !== 200; i++) {
      after2 = await outcome(url, { inputs: 'and now?' });
      if (after2.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(after2.status, 200, 'a replacement worker answers');
  });
});

describe('a hung worker, and one grown too large', () => {
  const fragile = (extra: Record<string, number>) =>
    tiny('fragile', 'hubserve-test/tiny-sentiment', { handler: 'test/support/crash-handler.ts', ...extra });
  const restarts = async (url: string) =>
    (
      (await (await fetch(`${url}/models/fragile`)).json()) as {
        workers: { restarts: Record<string, number> };
      }
    ).workers.restarts;

  it('replaces a worker whose event loop is stuck, failing its request with 503, not a hang', async () => {
    const server = await serve([fragile({ hang_timeout_s: 1 })]);
    after(() => server.close());
    const url = `${server.url}/models/fragile`;
    const started = performance.now();
    assert.deepEqual(await outcome(url, { inputs: 'hang' }), { status: 503, code: 'worker_failed' });
    assert.ok(performance.now() - started < 10_000, 'answered within seconds of the hang timeout');
    let next = { status: 0 } as Outcome;
    for (let i = 0; i < 100 && next.status !== 200; i++) {
      next = await outcome(url, { inputs: 'fine' });
      if (next.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(next.status, 200, 'its replacement answers');
    assert.equal((await restarts(server.url)).hung, 1);
  });

  it('recycles a worker past its memory limit without failing a request', async () => {
    const server = await serve([fragile({ max_worker_growth_mb: 100 })]);
    after(() => server.close());
    const url = `${server.url}/models/fragile`;
    const outcomes: Outcome[] = [];
    // 32 MB kept per "leak": past 100 MB after four; the watchdog looks every second.
    for (let i = 0; i < 40 && (await restarts(server.url)).recycled === 0; i++) {
      outcomes.push(await outcome(url, { inputs: i % 2 ? 'leak' : 'fine' }));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await restarts(server.url)).recycled, 1, 'recycled once');
    outcomes.push(...(await Promise.all(['a', 'b', 'c'].map((inputs) => outcome(url, { inputs })))));
    assert.deepEqual(tally(outcomes), { 200: outcomes.length }, 'no request failed');
  });
});

describe('a model that cannot load', () => {
  const broken = mkdtempSync(join(tmpdir(), 'hubserve-broken-'));
  after(() => rmSync(broken, { recursive: true, force: true }));

  it('is listed as failed with its reason while the others serve', async () => {
    cpSync(testModelPath('hubserve-test/tiny-sentiment'), broken, { recursive: true });
    writeFileSync(join(broken, 'onnx', 'model.onnx'), 'not an onnx file');
    const server = await serve([
      tiny('sentiment', 'hubserve-test/tiny-sentiment'),
      { name: 'broken', source: broken },
    ]);
    after(() => server.close());
    const listed = (await (await fetch(`${server.url}/models/broken`)).json()) as {
      state: string;
      error?: { code: string; message: string };
    };
    assert.equal(listed.state, 'failed');
    assert.ok(listed.error?.message, 'the reason is shown');
    const refused = await outcome(`${server.url}/models/broken`, { inputs: 'hi' });
    assert.deepEqual(refused, { status: 503, code: 'model_not_ready' });
    assert.equal((await outcome(`${server.url}/models/sentiment`, { inputs: 'hi' })).status, 200);
    assert.equal((await fetch(`${server.url}/ready`)).status, 503, 'not ready while a model is failed');
  });
});

describe('SIGTERM under load', () => {
  const gpt2 = `gpt2=${testModelPath('hubserve-test/tiny-gpt2')}`;
  const generate = (tokens: number) => ({ inputs: 'Once upon a', parameters: { max_new_tokens: tokens } });

  /** Generations (seconds of work for the model's one worker), once the server has them all. */
  async function load(url: string): Promise<Promise<Outcome>[]> {
    const requests = Array.from({ length: 24 }, () => outcome(`${url}/models/gpt2`, generate(200)));
    await received(url, 'gpt2', 24);
    return requests;
  }

  it('finishes the requests in flight, then exits 0', async () => {
    const server = await spawnServer([gpt2, '--shutdown-timeout-s', '60']);
    after(() => server.kill());
    const requests = await load(server.url);
    server.child.kill('SIGTERM');
    assert.deepEqual(tally(await Promise.all(requests)), { 200: 24 }, 'every request answered');
    assert.equal(await server.exited, 0);
    assert.ok(
      server.logs.some((l) => /SIGTERM: finishing the requests in flight/.test(l.msg)),
      'it says what it does',
    );
  });

  it('answers what its deadline cuts short with 503 shutting_down, and still exits 0', async () => {
    const server = await spawnServer([gpt2, '--shutdown-timeout-s', '0']);
    after(() => server.kill());
    const requests = await load(server.url);
    server.child.kill('SIGTERM');
    const counts = tally(await Promise.all(requests));
    assert.deepEqual(
      Object.keys(counts).filter((k) => k !== '200' && k !== '503 shutting_down'),
      [],
      `only answers or shutting_down: ${JSON.stringify(counts)}`,
    );
    assert.ok(
      (counts['503 shutting_down'] ?? 0) > 0,
      `the deadline cut what waited: ${JSON.stringify(counts)}`,
    );
    assert.equal(await server.exited, 0);
  });
});
