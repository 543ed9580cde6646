// The engine: models in worker threads, several instances, no silent device fallback, dispose.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ModelRunner } from '../../src/engine/runner.ts';
import { ServeError } from '../../src/errors.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { serve, tiny } from '../support/server.ts';

const sentiment = testModelPath('hubserve-test/tiny-sentiment');

describe('ModelRunner', () => {
  for (const device of ['cuda', 'webgpu'] as const) {
    it(`refuses ${device} where it is not available, saying why, instead of falling back to cpu`, async () => {
      await assert.rejects(
        ModelRunner.start({
          path: sentiment,
          task: 'text-classification',
          dtype: 'fp32',
          device,
          instances: 1,
        }),
        (error: unknown) => {
          assert.ok(error instanceof ServeError, String(error));
          assert.equal(error.code, 'device_unavailable');
          assert.match(error.message, new RegExp(`device "${device}" is not available`));
          return true;
        },
      );
    });
  }

  it('runs requests on several instances, reports what it loaded, and stops on dispose', async () => {
    const runner = await ModelRunner.start({
      path: sentiment,
      task: 'text-classification',
      dtype: 'q8',
      device: 'cpu',
      instances: 2,
    });
    assert.equal(runner.info.dtype, 'q8');
    assert.deepEqual(runner.info.labels, ['NEGATIVE', 'POSITIVE']);
    assert.ok(runner.info.loadMs >= 0 && runner.info.warmupMs >= 0, JSON.stringify(runner.info));
    const texts = ['I love it', 'I hate it', 'great', 'awful', 'nice', 'boring'];
    const results = (await Promise.all(texts.map((t) => runner.run('text-classification', t, {})))) as {
      label: string;
    }[][][];
    assert.deepEqual(
      results.map((r) => r[0]?.[0]?.label),
      ['POSITIVE', 'NEGATIVE', 'POSITIVE', 'NEGATIVE', 'POSITIVE', 'NEGATIVE'],
    );
    await runner.dispose();
    await assert.rejects(runner.run('text-classification', 'x', {}), /restarting|not ready|no running/);
  });
});

describe('a worker that dies', () => {
  it('fails its own request with 503 worker_failed, is replaced once, and the model answers again', async () => {
    const server = await serve([
      tiny('fragile', 'hubserve-test/tiny-sentiment', {
        handler: 'test/support/crash-handler.ts',
        instances: 2,
      }),
    ]);
    after(() => server.close());
    const crashed = await server.post('/models/fragile', { inputs: 'crash' });
    assert.equal(crashed.status, 503, JSON.stringify(crashed.body));
    assert.equal((crashed.body as { error: { code: string } }).error.code, 'worker_failed');
    assert.ok(crashed.headers.get('retry-after'), 'Retry-After on 503');
    const workers = async (): Promise<number> =>
      ((await (await fetch(`${server.url}/models/fragile`)).json()) as { queue: { workers: number } }).queue
        .workers;
    for (let i = 0; i < 100 && (await workers()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await workers(), 2, 'one replacement, not more');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await workers(), 2, 'still two a moment later');
    const answers = await Promise.all(
      ['fine', 'also fine', 'great'].map((t) => server.post('/models/fragile', { inputs: t })),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
  });
});
