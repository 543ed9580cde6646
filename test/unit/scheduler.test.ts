// The scheduler's batching, grouping, bounds and cancellation, against a batch runner that records the
// batches it is given and answers like a batching task (one result per input) after a delay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Type from 'typebox';
import { ServeError } from '../../src/errors.ts';
import {
  type BatchingSettings,
  DEFAULT_BATCHING,
  type RunReport,
  Scheduler,
} from '../../src/scheduler/scheduler.ts';
import type { TaskDefinition } from '../../src/tasks/index.ts';

const task = (batching: TaskDefinition['batching'], name = 'echo'): TaskDefinition => ({
  name,
  summary: 'test',
  modelClass: 'sequence-classification',
  inputs: Type.Unknown(),
  parameters: Type.Object({}),
  output: Type.Unknown(),
  example: { inputs: 'x' },
  splittable: false,
  ...(batching ? { batching } : {}),
  run: () => Promise.reject(new Error('the scheduler never calls run itself')),
});

const wrapped = task('wrapped');
const unwrapped = task('unwrapped');
const alone = task(undefined, 'alone');

/** A model with `workers` workers that answers each input with `#input` after `ms`. */
function model(workers = 1, ms = 20, settings: Partial<BatchingSettings> = {}) {
  const batches: unknown[] = [];
  const scheduler = new Scheduler(
    async (_task, inputs) => {
      batches.push(inputs);
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (Array.isArray(inputs) && inputs.includes('bad')) throw new ServeError('invalid_input', 'bad input');
      return Array.isArray(inputs) ? inputs.map((i) => `#${String(i)}`) : `#${String(inputs)}`;
    },
    () => workers,
    { ...DEFAULT_BATCHING, ...settings },
  );
  return { scheduler, batches };
}

describe('Scheduler', () => {
  it('merges requests that wait while the model is busy, and answers each its own results', async () => {
    // A wait long enough that a loaded machine cannot stretch the synchronous submissions past it.
    const { scheduler, batches } = model(1, 20, { max_delay_ms: 50 });
    const answers = await Promise.all([
      scheduler.submit(wrapped, 'a', {}),
      scheduler.submit(wrapped, 'b', {}),
      scheduler.submit(wrapped, ['c', 'd'], {}),
      scheduler.submit(wrapped, 'e', {}),
    ]);
    assert.deepEqual(answers, [['#a'], ['#b'], ['#c', '#d'], ['#e']]);
    assert.deepEqual(batches, [['a', 'b', 'c', 'd', 'e']], 'one batch: the model was idle for max_delay_ms');
    const single = await scheduler.submit(unwrapped, 'f', {});
    assert.equal(single, '#f', "an 'unwrapped' task answers a single input with its result alone");
  });

  it("reports each request of a batch its share of the batch's tokens, and the batch's timings", async () => {
    // Two rows per input (an input and its pair, say); input i has i + 1 tokens a row, and generates 10 * i.
    const scheduler = new Scheduler(
      async (_task, inputs, _parameters, options) => {
        const items = inputs as number[];
        options?.onMeter?.({
          input: items.flatMap((i) => [i + 1, i + 1]),
          output: items.map((i) => 10 * i),
          tokenizeMs: 2,
          runMs: 7,
        });
        return items;
      },
      () => 1,
    );
    const reports: RunReport[] = [];
    await Promise.all(
      [[0], [1, 2], [3]].map((inputs) =>
        scheduler.submit(wrapped, inputs, {}, { onReport: (report) => reports.push(report) }),
      ),
    );
    assert.equal(scheduler.stats.batches, 1, 'one shared batch');
    assert.deepEqual(
      reports.map((r) => [r.inputTokens, r.outputTokens, r.tokenizeMs, r.inferenceMs, r.batchInputs]),
      [
        [2, 0, 2, 5, 4],
        [10, 30, 2, 5, 4],
        [8, 30, 2, 5, 4],
      ],
    );
    assert.ok(
      reports.every((r) => r.queueMs >= 0 && r.queueMs < 1000),
      'time waiting for the worker',
    );
  });

  it('keeps batches within max_batch_size, and requests with other parameters apart', async () => {
    const { scheduler, batches } = model(1, 10, { max_batch_size: 3 });
    await Promise.all([
      ...['a', 'b', 'c', 'd', 'e'].map((x) => scheduler.submit(wrapped, x, {})),
      scheduler.submit(wrapped, 'z', { top_k: 1 }),
    ]);
    assert.deepEqual(batches, [['a', 'b', 'c'], ['d', 'e'], ['z']]);
    assert.equal(scheduler.stats.batches, 3);
    await Promise.all([
      scheduler.submit(wrapped, 'p', { top_k: 1, function_to_apply: 'none' }),
      scheduler.submit(wrapped, 'q', { function_to_apply: 'none', top_k: 1 }),
    ]);
    assert.deepEqual(batches.at(-1), ['p', 'q'], 'the same parameters in another key order share a batch');
  });

  it('groups inputs by length so that a long one does not pad a batch of short ones', async () => {
    const { scheduler, batches } = model(1, 10, { max_delay_ms: 5 });
    const long = 'a very long message that goes on and on for many many words '.repeat(4);
    await Promise.all(
      ['hi there', long, 'ok then', `${long}!`, 'yes sure'].map((x) => scheduler.submit(wrapped, x, {})),
    );
    assert.deepEqual(batches, [
      ['hi there', 'ok then', 'yes sure'],
      [long, `${long}!`],
    ]);
  });

  it('respects the padded-token budget', async () => {
    const { scheduler, batches } = model(1, 10, { max_batch_tokens: 30 });
    const text = 'x'.repeat(40); // ~12 tokens: two fit in 30, three do not
    await Promise.all([1, 2, 3, 4].map(() => scheduler.submit(wrapped, text, {})));
    assert.deepEqual(
      batches.map((b) => (b as unknown[]).length),
      [2, 2],
    );
  });

  it('runs a batch per idle worker', async () => {
    const { scheduler, batches } = model(2, 40, { max_batch_size: 2, max_delay_ms: 5 });
    const started = performance.now();
    await Promise.all(['a', 'b', 'c', 'd'].map((x) => scheduler.submit(wrapped, x, {})));
    assert.deepEqual(batches, [
      ['a', 'b'],
      ['c', 'd'],
    ]);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 75, `two batches of 40 ms ran side by side (${elapsed.toFixed(0)} ms)`);
  });

  it('runs tasks that do not batch one request at a time, inputs as sent', async () => {
    const { scheduler, batches } = model();
    const answers = await Promise.all([scheduler.submit(alone, 'a', {}), scheduler.submit(alone, ['b'], {})]);
    assert.deepEqual(answers, ['#a', ['#b']]);
    assert.deepEqual(batches, ['a', ['b']]);
  });

  it('does not hold a lone request for company when requests come further apart than max_delay_ms', async () => {
    const { scheduler, batches } = model(1, 5, { max_delay_ms: 1000 });
    for (const input of ['a', 'b']) {
      const started = performance.now();
      await scheduler.submit(wrapped, input, {});
      const ms = performance.now() - started;
      assert.ok(ms < 500, `${input} answered in ${ms.toFixed(0)} ms: not held for the 1000 ms max_delay_ms`);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the next comes later than the wait
    }
    const burst = await Promise.all(['c', 'd', 'e'].map((i) => scheduler.submit(wrapped, i, {})));
    assert.equal(burst.length, 3);
    assert.deepEqual(batches, [['a'], ['b'], ['c', 'd', 'e']], 'a burst is still batched');
  });

  it('refuses work beyond max_queue with overloaded (503)', async () => {
    const { scheduler } = model(1, 50, { max_queue: 3, max_delay_ms: 0 });
    const first = scheduler.submit(wrapped, 'a', {});
    await new Promise(setImmediate); // dispatched once the tick's submissions are in
    const queued = [scheduler.submit(wrapped, 'b', {}), scheduler.submit(wrapped, ['c', 'd'], {})];
    await assert.rejects(
      scheduler.submit(wrapped, 'e', {}),
      (e: unknown) => e instanceof ServeError && e.code === 'overloaded',
    );
    await Promise.all([first, ...queued]);
  });

  it('answers timeout (504) when the deadline passes', async () => {
    const { scheduler } = model(1, 100, { timeout_ms: 30, max_delay_ms: 0 });
    await assert.rejects(
      scheduler.submit(alone, 'slow', {}),
      (e: unknown) => e instanceof ServeError && e.code === 'timeout',
    );
  });

  it('drops a queued request whose client left before it reaches a worker', async () => {
    const { scheduler, batches } = model(1, 30, { max_delay_ms: 0 });
    const busy = scheduler.submit(alone, 'busy', {});
    const client = new AbortController();
    const gone = scheduler.submit(alone, 'gone', {}, { signal: client.signal });
    client.abort();
    await assert.rejects(gone, /went away/);
    await busy;
    assert.deepEqual(batches, ['busy'], 'the abandoned request never ran');
  });

  it('retries the rest of a failed batch alone, so one bad input fails only its request', async () => {
    const { scheduler } = model();
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((x) => scheduler.submit(wrapped, x, {})));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as ServeError).code)),
      [['#a'], 'invalid_input', ['#c']],
    );
  });

  it('rejects, without crashing, when a batching task answers with something other than one result per input', async () => {
    const scheduler = new Scheduler(
      async () => 'not an array',
      () => 1,
      DEFAULT_BATCHING,
    );
    await assert.rejects(
      scheduler.submit(wrapped, ['a', 'b'], {}),
      (e: unknown) => e instanceof ServeError && e.code === 'internal',
    );
  });

  it('does not retry a request whose deadline passed while its batch failed', async () => {
    let runs = 0;
    const scheduler = new Scheduler(
      async (_task, inputs) => {
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 40));
        if (Array.isArray(inputs) && inputs.length > 1) throw new ServeError('invalid_input', 'one bad');
        return (inputs as unknown[]).map(String);
      },
      () => 1,
      { ...DEFAULT_BATCHING, timeout_ms: 20 },
    );
    const results = await Promise.allSettled(['a', 'b'].map((x) => scheduler.submit(wrapped, x, {})));
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && (r.reason as ServeError).code),
      ['timeout', 'timeout'],
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(runs, 1, 'the failed batch was not retried for requests that had already timed out');
  });

  it('refuses work with 503 while the model has no worker, and fails what waits when the last one goes', async () => {
    let workers = 0;
    const scheduler = new Scheduler(
      async (_task, inputs) => inputs,
      () => workers,
      DEFAULT_BATCHING,
    );
    await assert.rejects(
      scheduler.submit(alone, 'x', {}),
      (e: unknown) => e instanceof ServeError && e.code === 'model_not_ready',
    );
    workers = 1;
    assert.equal(await scheduler.submit(alone, 'x', {}), 'x');
  });
});
