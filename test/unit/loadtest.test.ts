// hubserve bench: the sweep against a real HTTP server on loopback that answers after a known delay
// (and fails a known share of requests), the percentile function, and the reporters' output.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { format } from 'prettier';
import { CONVERSATION_CORPUS } from '../../src/loadtest/corpus.ts';
import { runDeviceComparison, type DeviceOutcome } from '../../src/loadtest/devices.ts';
import { deviceTable, markdownTable, sweepJson, sweepSvg, sweepTable } from '../../src/loadtest/report.ts';
import { freePort } from '../../src/loadtest/servers.ts';
import { percentile, summarize } from '../../src/loadtest/stats.ts';
import { runSweep, type LevelResult, type SweepResult } from '../../src/loadtest/sweep.ts';

const DELAY_MS = 20;
// Round-robin over this corpus: exactly one request in five asks the server to fail.
const CORPUS = ['one', 'two', 'three', 'four', 'fail please'];

let server: Server | undefined;
let base = '';
let posts = 0;

before(async () => {
  server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      posts++;
      const { inputs } = JSON.parse(body) as { inputs: string };
      setTimeout(() => {
        const status = inputs.startsWith('fail') ? 500 : 200;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ inputs }));
      }, DELAY_MS);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server?.close());

function assertOrdered(level: LevelResult): void {
  const l = level.latencyMs;
  assert.ok(
    l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
    `percentiles out of order: ${JSON.stringify(l)}`,
  );
  assert.ok(l.min <= l.mean && l.mean <= l.max, `mean outside min..max: ${JSON.stringify(l)}`);
}

describe('runSweep against a server answering after 20 ms', () => {
  let result: SweepResult | undefined;
  before(async () => {
    result = await runSweep({
      url: `${base}/models/x`,
      concurrency: [1, 4],
      durationS: 1,
      warmupS: 0.2,
      corpus: CORPUS,
    });
  });

  it('sends about duration x concurrency / latency requests per level', () => {
    assert.deepEqual(
      result?.levels.map((l) => l.concurrency),
      [1, 4],
    );
    for (const level of result?.levels ?? []) {
      const ceiling = (level.concurrency * level.windowS * 1000) / DELAY_MS;
      assert.ok(
        level.requests <= ceiling + level.concurrency,
        `c=${level.concurrency}: ${level.requests} requests, more than ${ceiling} possible`,
      );
      assert.ok(
        level.requests >= ceiling * 0.6,
        `c=${level.concurrency}: ${level.requests} requests, far fewer than ${ceiling}`,
      );
      const expected = (level.requests - level.errors) / level.windowS;
      assert.ok(
        Math.abs(level.throughput - expected) < 0.01,
        `throughput ${level.throughput} != ${expected}`,
      );
    }
  });

  it('counts the failing fifth as errors, by status', () => {
    for (const level of result?.levels ?? []) {
      const fifth = level.requests / 5;
      assert.ok(
        Math.abs(level.errors - fifth) <= level.concurrency + 1,
        `c=${level.concurrency}: ${level.errors} errors of ${level.requests} requests, expected about ${fifth}`,
      );
      assert.deepEqual(level.errorsBy, { 500: level.errors });
      assert.equal(level.latencyMs.count, level.requests - level.errors);
    }
  });

  it('reports latency percentiles in order and near the known delay', () => {
    for (const level of result?.levels ?? []) {
      assertOrdered(level);
      assert.ok(level.latencyMs.min >= DELAY_MS - 1, `min ${level.latencyMs.min} ms is below the delay`);
      assert.ok(level.latencyMs.p50 < DELAY_MS + 20, `p50 ${level.latencyMs.p50} ms is far above the delay`);
    }
  });

  it('probes /health sequentially during each window', () => {
    for (const level of result?.levels ?? []) {
      const health = level.health;
      assert.ok(health, `c=${level.concurrency} has no /health figures`);
      assert.equal(health.errors, 0);
      // Sequential probes one interval apart; Node's timers may fire up to a millisecond early, so
      // allow a fifth more than the exact count, far below what concurrent probing would send.
      const exact = (level.windowS * 1000) / 20;
      assert.ok(
        health.probes >= exact * 0.3 && health.probes <= exact * 1.2 + 1,
        `${health.probes} probes in a ${level.windowS} s window at 20 ms`,
      );
      assert.ok(health.latencyMs.p99 < 50, `/health p99 ${health.latencyMs.p99} ms on an idle server`);
    }
  });
});

describe('runSweep bounds', () => {
  it('ends a level after maxRequests measured requests', async () => {
    const sentBefore = posts;
    const result = await runSweep({
      url: `${base}/models/x`,
      concurrency: [4],
      durationS: 30,
      warmupS: 0,
      maxRequests: 30,
      corpus: CORPUS,
      healthPath: false,
    });
    const [level] = result.levels;
    assert.equal(level?.requests, 30);
    assert.equal(level?.health, undefined);
    assert.ok((level?.windowS ?? 99) < 2, `window of ${level?.windowS} s for 30 requests of 20 ms`);
    assert.ok(
      posts - sentBefore <= 30 + 4,
      `${posts - sentBefore} requests sent for 30 measured with 4 users`,
    );
  });

  it('counts network errors by code', async () => {
    const port = await freePort();
    const result = await runSweep({
      url: `http://127.0.0.1:${port}/models/x`,
      concurrency: [2],
      durationS: 5,
      warmupS: 0,
      maxRequests: 20,
      corpus: CORPUS,
      healthPath: false,
    });
    const [level] = result.levels;
    assert.equal(level?.requests, 20);
    assert.deepEqual(level?.errorsBy, { ECONNREFUSED: 20 });
    assert.equal(level?.throughput, 0);
    assert.ok(Number.isNaN(level?.latencyMs.p50), 'no latency without a successful request');
  });

  it('targets loopback only, and checks its options', async () => {
    const options = { concurrency: [1], durationS: 1, corpus: CORPUS };
    await assert.rejects(runSweep({ ...options, url: 'http://example.com/models/x' }), /loopback only/);
    await assert.rejects(runSweep({ ...options, url: `${base}/x`, concurrency: [0] }), /concurrency/);
    await assert.rejects(runSweep({ ...options, url: `${base}/x`, corpus: [] }), /corpus is empty/);
    await assert.rejects(
      runDeviceComparison({ ...options, model: '.', devices: ['tpu' as 'cpu'] }),
      /unknown device/,
    );
  });
});

describe('percentile', () => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  it('is the nearest rank', () => {
    assert.deepEqual(
      [0, 1, 50, 90, 99, 99.5, 100].map((p) => percentile(hundred, p)),
      [1, 1, 50, 90, 99, 100, 100],
    );
    assert.deepEqual(
      [25, 50, 51, 75, 76].map((p) => percentile([1, 2, 3, 4], p)),
      [1, 2, 3, 3, 4],
    );
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)), 'no samples, no percentile');
  });

  it('rejects a p outside 0..100', () => {
    for (const p of [-1, 101, Number.NaN]) assert.throws(() => percentile([1], p), RangeError);
  });

  it('summarizes unsorted samples', () => {
    assert.deepEqual(summarize([30, 10, 20, 40]), {
      count: 4,
      min: 10,
      mean: 25,
      p50: 20,
      p90: 40,
      p99: 40,
      max: 40,
    });
  });
});

const level = (concurrency: number, p50: number, throughput: number): LevelResult => ({
  concurrency,
  windowS: 10,
  requests: throughput * 10,
  errors: concurrency === 4 ? 2 : 0,
  errorsBy: concurrency === 4 ? { 503: 1, ECONNRESET: 1 } : {},
  throughput,
  latencyMs: { count: 10, min: p50 / 2, mean: p50, p50, p90: p50 * 1.5, p99: p50 * 2, max: p50 * 3 },
  health: { probes: 500, errors: 0, latencyMs: summarize([1, 2, 3]) },
  clientLagP99Ms: 0.5,
});
const sweep = (scale: number): SweepResult => ({
  url: 'http://127.0.0.1:1/models/x',
  startedAt: '2025-01-01T00:00:00.000Z',
  durationS: 10,
  warmupS: 1,
  corpusSize: 5,
  levels: [level(1, 40 * scale, 25), level(4, 90 * scale, 44), level(16, 350 * scale, 46 / scale)],
});

/** A minimal XML well-formedness check: balanced tags, quoted attributes, escaped text. */
function xmlElements(xml: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/g;
  let last = 0;
  for (const m of xml.matchAll(tag)) {
    const text = xml.slice(last, m.index);
    assert.doesNotMatch(text, /[<>]|&(?!amp;|lt;|gt;|quot;)/, `bad text before ${m[0]}`);
    last = m.index + m[0].length;
    const [, closing, name = '', , selfClosing] = m;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes another element`);
    else {
      names.push(name);
      if (!selfClosing) stack.push(name);
    }
  }
  assert.equal(xml.slice(last).trim(), '', 'text after the root element');
  assert.deepEqual(stack, [], 'unclosed elements');
  return names;
}

describe('reporters', () => {
  const result = sweep(1);

  it('writes an aligned Markdown table, as Prettier would', async () => {
    const table = sweepTable(result);
    const lines = table.split('\n');
    assert.equal(lines.length, 2 + result.levels.length);
    assert.ok(
      lines.every((l) => l.length === lines[0]?.length),
      `ragged table:\n${table}`,
    );
    assert.match(lines[3] ?? '', /^\| +4 \| +440 \| 2 \(503: 1, ECONNRESET: 1\) +\| +44\.0 \| +90\.0 \|/);
    assert.equal(await format(table, { parser: 'markdown', printWidth: 110 }), `${table}\n`);
    const small = markdownTable(['a', 'long header'], [['x', '1']], ['left', 'right']);
    assert.equal(small, '| a   | long header |\n| --- | ----------: |\n| x   |           1 |');
  });

  it('writes every figure as JSON', () => {
    assert.deepEqual(JSON.parse(sweepJson(result)), result);
  });

  it('draws a well-formed SVG with a line per series and percentile', () => {
    const svg = sweepSvg(
      [
        { name: 'hubserve', result },
        { name: 'naive <peer>', result: sweep(2) },
      ],
      { title: 'A & B', references: [{ panel: 'throughput', label: 'limit', value: 50 }] },
    );
    const names = xmlElements(svg);
    assert.equal(names[0], 'svg');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const name of ['hubserve', 'naive &lt;peer&gt;']) {
      for (const series of ['p50', 'p90', 'p99', 'throughput']) {
        const group = new RegExp(
          `data-series="${name} ${series}"><title>[^<]+</title>\\n<polyline [^>]*points="([^"]+)"`,
        );
        const points = group.exec(svg)?.[1]?.split(' ') ?? [];
        assert.equal(points.length, 3, `${name} ${series}: ${points.length} points`);
        assert.ok(
          points.every((p) => /^-?[\d.]+,-?[\d.]+$/.test(p)),
          `${name} ${series}: bad points ${points.join(' ')}`,
        );
      }
    }
    assert.match(svg, /data-series="limit"/);
    assert.match(svg, />A &amp; B</);
  });

  it('tables devices, with the reason a device is unavailable', () => {
    const outcomes: DeviceOutcome[] = [
      { device: 'cpu', available: true, sweep: result },
      { device: 'cuda', available: false, reason: 'no CUDA | library' },
    ];
    const [table = '', reasons = ''] = deviceTable(outcomes).split('\n\n');
    assert.equal(table.split('\n').length, 2 + 3 + 1);
    assert.match(table, /\| cuda +\| unavailable \| +– \|/);
    assert.equal(reasons, '- cuda: no CUDA | library');
  });
});

describe('the conversation corpus', () => {
  it('holds 200 distinct sentences of 5 to 40 words', () => {
    assert.equal(CONVERSATION_CORPUS.length, 200);
    assert.equal(new Set(CONVERSATION_CORPUS).size, 200);
    for (const sentence of CONVERSATION_CORPUS) {
      const words = sentence.split(/\s+/).length;
      assert.ok(words >= 5 && words <= 40, `${words} words: ${sentence}`);
    }
  });
});
