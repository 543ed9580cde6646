// Models never run on the event loop: /health keeps answering quickly while a model works through
// seconds of inference (the BERT-base-shaped model on a large batch).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { BENCH_MODELS, DEFAULT_MODELS_DIR, ensureTestModels } from '../../tools/testmodels/index.ts';
import { serve, type TestServer } from '../support/server.ts';

let server: TestServer;
before(async () => {
  const [id] = Object.keys(BENCH_MODELS) as [string];
  const path = join(ensureTestModels(DEFAULT_MODELS_DIR, [id]), id);
  server = await serve([{ name: 'bert', source: path }]);
});
after(() => server.close());

it('/health answers while a long inference runs', async () => {
  const sentence =
    'I would like to change the delivery address of my order before it ships tomorrow morning please';
  const heavy = server.post('/models/bert', {
    inputs: Array.from({ length: 96 }, (_, i) => `${sentence} ${i}`),
  });
  let done = false;
  void heavy.finally(() => (done = true));
  const latencies: number[] = [];
  while (!done && latencies.length < 2000) {
    const started = performance.now();
    const response = await fetch(`${server.url}/health`);
    await response.text();
    latencies.push(performance.now() - started);
    assert.equal(response.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const result = await heavy;
  assert.equal(result.status, 200, JSON.stringify(result.body).slice(0, 200));
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? Infinity;
  const max = latencies.at(-1) ?? Infinity;
  console.log(
    `/health during inference: ${latencies.length} requests, p50 ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
  );
  assert.ok(latencies.length >= 20, `inference too short to measure (${latencies.length} polls)`);
  // A model on the event loop would stall /health for the whole inference (seconds).
  assert.ok(p99 < 250, `p99 ${p99.toFixed(1)} ms`);
});
