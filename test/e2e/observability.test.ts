// What operators see of a running server: one JSON log line per request (never its inputs), request
// ids, Server-Timing, and the Prometheus metrics, from the hubserve command in a child process.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { type LogLine, type ServerProcess, spawnServer } from '../support/process.ts';

let server: ServerProcess;
before(async () => {
  server = await spawnServer([
    `sentiment=${testModelPath('hubserve-test/tiny-sentiment')}`,
    `gpt2=${testModelPath('hubserve-test/tiny-gpt2')}`,
  ]);
});
after(() => server.kill());

const SECRET = 'my card number is 4242 4242 4242 4242';

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** The log line of a request, once it is written (after the answer's last byte). */
async function logOf(requestId: string): Promise<LogLine> {
  for (let i = 0; i < 100; i++) {
    const line = server.logs.find((l) => l.reqId === requestId && l.msg === 'request');
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no log line for ${requestId}`);
}

describe('request ids and Server-Timing', () => {
  it("keeps a client's request id, and replaces one unfit for logs", async () => {
    const kept = await post('/models/sentiment', { inputs: 'I love it' }, { 'x-request-id': 'trace-42.a' });
    assert.equal(kept.headers.get('x-request-id'), 'trace-42.a');
    const replaced = await post('/models/sentiment', { inputs: 'hi' }, { 'x-request-id': 'a\tb {"x":1}' });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const error = await post('/models/nope', { inputs: 'hi' }, { 'x-request-id': 'err-1' });
    assert.equal(error.status, 404);
    assert.equal(error.headers.get('x-request-id'), 'err-1', 'errors carry it too');
  });

  it('says where the time of an inference went', async () => {
    const response = await post('/models/sentiment', { inputs: 'I love it' });
    const timing = response.headers.get('server-timing') ?? '';
    for (const stage of ['queue', 'tokenize', 'inference', 'total']) {
      assert.match(timing, new RegExp(`${stage};dur=[0-9.]+`), timing);
    }
  });
});

describe('logs', () => {
  it('writes one JSON line per request with its model, status, tokens and timings, but not its text', async () => {
    const id = 'log-check-1';
    const response = await post('/models/sentiment', { inputs: SECRET }, { 'x-request-id': id });
    assert.equal(response.status, 200);
    const line = await logOf(id);
    assert.equal(line.status, 200);
    assert.equal(line.model, 'sentiment');
    assert.equal(line.task, 'text-classification');
    assert.equal(line.url, '/models/:name');
    assert.ok(typeof line.tokens_in === 'number' && line.tokens_in > 5, `tokens_in ${line.tokens_in}`);
    for (const key of ['ms', 'queue_ms', 'tokenize_ms', 'inference_ms', 'batch_inputs']) {
      assert.equal(typeof line[key], 'number', key);
    }
    assert.equal(server.logs.filter((l) => l.reqId === id).length, 1, 'one line per request');
    const everything = JSON.stringify(server.logs) + server.other.join('');
    assert.ok(!everything.includes('4242'), 'the input text is never logged');
  });

  it('puts the body in the log line only when log_inputs is on', async () => {
    const verbose = await spawnServer(
      [`sentiment=${testModelPath('hubserve-test/tiny-sentiment')}`],
      60_000,
      {
        HUBSERVE_LOG_INPUTS: '1',
      },
    );
    after(() => verbose.kill());
    await fetch(`${verbose.url}/models/sentiment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'verbose-1' },
      body: JSON.stringify({ inputs: SECRET }),
    }).then((r) => r.text());
    let line: LogLine | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      line = verbose.logs.find((l) => l.reqId === 'verbose-1' && l.msg === 'request');
      if (!line) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(line?.body, JSON.stringify({ inputs: SECRET }));
  });

  it('logs streamed generations and errors too', async () => {
    const streamed = await post(
      '/models/gpt2',
      { inputs: 'Once upon a', stream: true, parameters: { max_new_tokens: 4 } },
      { 'x-request-id': 'log-stream' },
    );
    await streamed.text();
    const line = await logOf('log-stream');
    assert.equal(line.status, 200);
    assert.equal(line.tokens_out, 4);
    await post('/models/sentiment', { inputs: 5 }, { 'x-request-id': 'log-bad' });
    assert.equal((await logOf('log-bad')).status, 400);
  });
});

describe('metrics', () => {
  const scrape = async (): Promise<string> => (await fetch(`${server.url}/metrics`)).text();
  /** The value of a sample, by its name and labels as they appear in the text format. */
  const sample = (text: string, series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  };

  it('counts requests by model, task and status, with latency by stage, tokens and batch sizes', async () => {
    const labels = 'model="gpt2",task="text-generation"';
    const before = await scrape();
    const requestsBefore = sample(before, `hubserve_requests_total{${labels},status="200"}`) || 0;
    const tokensBefore = sample(before, `hubserve_tokens_total{${labels},direction="out"}`) || 0;
    for (let i = 0; i < 3; i++) {
      const response = await post('/models/gpt2', {
        inputs: 'Once upon a',
        parameters: { max_new_tokens: 5 },
      });
      assert.equal(response.status, 200);
    }
    const text = await scrape();
    assert.equal(sample(text, `hubserve_requests_total{${labels},status="200"}`), requestsBefore + 3);
    assert.equal(sample(text, `hubserve_tokens_total{${labels},direction="out"}`), tokensBefore + 15);
    for (const stage of ['queue', 'tokenize', 'inference']) {
      const count = sample(text, `hubserve_stage_duration_seconds_count{${labels},stage="${stage}"}`);
      assert.ok(count >= 3, `${stage}: ${count}`);
    }
    assert.ok(sample(text, `hubserve_batch_inputs_count{${labels}}`) >= 3, 'batch sizes');
    assert.ok(sample(text, 'hubserve_model_load_seconds{model="gpt2"}') > 0, 'load time');
    assert.equal(sample(text, 'hubserve_models{state="ready"}'), 2);
    assert.match(text, /^hubserve_nodejs_eventloop_lag_p99_seconds /m, 'event-loop lag');
    assert.match(text, /^hubserve_process_resident_memory_bytes /m, 'process memory');
  });
});
