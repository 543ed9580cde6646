// Not one request lost at a connection's end: SIGTERM under keep-alive load (fetch, which is undici,
// and node:http agents), streams and conversation sockets across it, and bodies over the limit. The
// server runs as `hubserve serve` in a child process, as an operator runs it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { spawnServer } from '../support/process.ts';

const sentiment = `sentiment=${testModelPath('hubserve-test/tiny-sentiment')}`;
const CLIENTS = 16;

/** What one request came to: a status and error code, or how its connection failed. */
interface Outcome {
  kind: string;
  /** The answer's Connection header. */
  connection?: string | null;
  afterSignal: boolean;
}

const errorCode = (error: unknown): string => {
  const { code, cause } = error as { code?: string; cause?: { code?: string; message?: string } };
  return code ?? cause?.code ?? cause?.message ?? String(error);
};

/** Nothing was sent: the listener is closed, and the client goes elsewhere. */
const REFUSED = 'ECONNREFUSED';

const statusOf = (status: number, text: string): string =>
  status === 200 ? '200' : `${status} ${(JSON.parse(text) as { error: { code: string } }).error.code}`;

async function postWithFetch(url: string, signalled: () => boolean): Promise<Outcome> {
  const afterSignal = signalled();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: 'I love this wonderful film' }),
    });
    const kind = statusOf(response.status, await response.text());
    return { kind, connection: response.headers.get('connection'), afterSignal };
  } catch (error) {
    return { kind: errorCode(error), afterSignal };
  }
}

function postWithHttp(url: string, agent: http.Agent, signalled: () => boolean): Promise<Outcome> {
  const afterSignal = signalled();
  const body = JSON.stringify({ inputs: 'I love this wonderful film' });
  return new Promise((resolve) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({
            kind: statusOf(response.statusCode ?? 0, text),
            connection: response.headers.connection ?? null,
            afterSignal,
          }),
        );
      },
    );
    request.on('error', (error) => resolve({ kind: errorCode(error), afterSignal }));
    request.end(body);
  });
}

const tally = (outcomes: Outcome[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const { kind } of outcomes) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
};

describe('SIGTERM under keep-alive load', () => {
  it('answers every request sent on an open connection, resets none, and exits 0 (3 runs)', async () => {
    for (let run = 0; run < 3; run++) {
      const server = await spawnServer([sentiment, '--drain-delay-s', '1', '--shutdown-timeout-s', '20']);
      after(() => server.kill());
      const url = `${server.url}/models/sentiment`;
      let signalled = false;
      const outcomes: Outcome[] = [];
      const agent = new http.Agent({ keepAlive: true });
      // Half the clients are fetch (undici's pool), half node:http's keep-alive agent; each posts
      // until it is told to go elsewhere (503 shutting_down; or refused: nothing sent).
      const client = async (i: number): Promise<void> => {
        for (;;) {
          const outcome =
            i % 2
              ? await postWithFetch(url, () => signalled)
              : await postWithHttp(url, agent, () => signalled);
          outcomes.push(outcome);
          if (outcome.kind !== '200') return;
        }
      };
      const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
      await new Promise((r) => setTimeout(r, 500));
      server.child.kill('SIGTERM');
      let ready = 200;
      for (let i = 0; i < 50 && ready === 200; i++) {
        ready = (await fetch(`${server.url}/ready`)).status;
        if (ready === 200) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(ready, 503, 'readiness turns 503 at once');
      // From here the server is draining (a signal arrives a moment after kill() returns).
      signalled = true;
      await Promise.all(clients);
      agent.destroy();
      const counts = tally(outcomes);
      const lost = Object.keys(counts).filter(
        (k) => k !== '200' && k !== '503 shutting_down' && k !== REFUSED,
      );
      assert.deepEqual(lost, [], `run ${run}: every request answered: ${JSON.stringify(counts)}`);
      const drained = outcomes.filter((o) => o.afterSignal && /^\d/.test(o.kind));
      assert.ok(
        drained.filter((o) => o.kind === '200').length >= CLIENTS,
        `run ${run}: served while the listener still accepted: ${JSON.stringify(counts)}`,
      );
      assert.ok(
        drained.every((o) => o.connection === 'close'),
        `run ${run}: every answer after SIGTERM says Connection: close`,
      );
      assert.equal(await server.exited, 0, `run ${run}: exit 0`);
    }
  });
});

describe('SIGTERM with a stream and a conversation socket open', () => {
  it('finishes the stream, answers the socket, refuses its new messages, then closes it with 1012', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubserve-drain-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'hubserve.yaml');
    writeFileSync(
      config,
      stringify({
        models: [
          { name: 'gpt2', source: testModelPath('hubserve-test/tiny-gpt2') },
          {
            name: 'slow',
            source: testModelPath('hubserve-test/tiny-sentiment'),
            handler: 'test/support/crash-handler.ts',
          },
        ],
      }),
    );
    const server = await spawnServer([
      '--config',
      config,
      '--drain-delay-s',
      '0.5',
      '--shutdown-timeout-s',
      '30',
    ]);
    after(() => server.kill());
    const post = (model: string, body: unknown): Promise<Response> =>
      fetch(`${server.url}/models/${model}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/conversation`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const messages: { id: string; result?: unknown; error?: { code: string } }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    socket.send(JSON.stringify({ id: 'in flight', model: 'slow', inputs: 'slow' }));
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill('SIGTERM');
    // Still served while the balancer catches up: a stream started now runs to its end.
    const streamed = post('gpt2', { inputs: 'Once upon a', stream: true }).then((r) => r.text());
    // Past the drain delay new requests are refused; a new message then is too.
    while ((await post('gpt2', { inputs: 'Hello' })).status === 200);
    socket.send(JSON.stringify({ id: 'late', model: 'slow', inputs: 'fine' }));

    const events = (await streamed).split('\n\n').filter((e) => e.startsWith('data:'));
    const last = JSON.parse(events.at(-1)?.slice('data:'.length) ?? '{}') as { generated_text?: string };
    assert.equal(typeof last.generated_text, 'string', `the stream ran to its end: ${events.at(-1)}`);
    const { code, reason } = await closed;
    assert.equal(code, 1012, 'service restart');
    assert.match(reason, /restarting/);
    assert.ok(messages.find((m) => m.id === 'in flight')?.result, 'the message in flight was answered');
    assert.equal(
      messages.find((m) => m.id === 'late')?.error?.code,
      'shutting_down',
      'the new one was refused',
    );
    assert.equal(await server.exited, 0);
  });
});

describe('bodies over the limit', () => {
  const LIMIT = 256 * 1024;

  it('every client reads the 413 and its JSON error (2x, 10x, 100x, 20 times each), memory bounded', async () => {
    const server = await spawnServer([sentiment], 60_000, { HUBSERVE_MAX_BODY_BYTES: String(LIMIT) });
    after(() => server.kill());
    const url = `${server.url}/models/sentiment`;
    const rss = async (): Promise<number> => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^hubserve_process_resident_memory_bytes (\d+)/m.exec(text)?.[1]);
    };
    const before = await rss();
    const counts: Record<string, number> = {};
    const count = (key: string): void => {
      counts[key] = (counts[key] ?? 0) + 1;
    };
    for (const times of [2, 10, 100]) {
      const body = Buffer.alloc(LIMIT * times, 'a');
      for (let i = 0; i < 20; i++) {
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          count(`fetch ${statusOf(response.status, await response.text())}`);
        } catch (error) {
          count(`fetch ${errorCode(error)}`);
        }
        const outcome = await new Promise<string>((resolve) => {
          const request = http.request(
            url,
            { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
            (response) => {
              let text = '';
              response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
              response.on('end', () => resolve(statusOf(response.statusCode ?? 0, text)));
            },
          );
          request.on('error', (error) => resolve(errorCode(error)));
          // Chunked, no Content-Length to refuse up front: the server reads up to the limit first.
          request.write(body);
          request.end();
        });
        count(`http ${outcome}`);
      }
    }
    assert.deepEqual(counts, { 'fetch 413 payload_too_large': 60, 'http 413 payload_too_large': 60 });
    const grown = (await rss()) - before;
    assert.ok(grown < 64 * 1024 ** 2, `resident memory grew ${(grown / 1024 ** 2).toFixed(1)} MiB`);
  });
});
