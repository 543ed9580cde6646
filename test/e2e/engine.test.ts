// The engine: models in worker threads, several instances, no silent device fallback, dispose.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelRunner } from '../../src/engine/runner.ts';
import { ServeError } from '../../src/errors.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';

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
