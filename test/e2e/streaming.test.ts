// Text generation streamed as Server-Sent Events in TGI's format, and stopped when nobody listens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ModelRunner } from '../../src/engine/runner.ts';
import type { StreamedToken } from '../../src/tasks/types.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';

interface TgiEvent {
  index: number;
  token: { id: number; text: string; logprob: number | null; special: boolean };
  generated_text: string | null;
  details: { finish_reason: string; generated_tokens: number } | null;
  error?: string;
}

let server: TestServer;
before(async () => {
  server = await serve([
    tiny('gpt2', 'hubserve-test/tiny-gpt2'),
    tiny('sentiment', 'hubserve-test/tiny-sentiment'),
  ]);
});
after(() => server.close());

/** POSTs and reads the whole event stream, as an SSE client would. */
async function stream(body: unknown): Promise<{ status: number; type: string | null; events: TgiEvent[] }> {
  const response = await fetch(`${server.url}/models/gpt2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const events = text
    .split('\n\n')
    .filter((chunk) => chunk.startsWith('data:'))
    .map((chunk) => JSON.parse(chunk.slice('data:'.length)) as TgiEvent);
  return { status: response.status, type: response.headers.get('content-type'), events };
}

describe('"stream": true', () => {
  it('sends one event per token; the last one carries the generated text and details', async () => {
    const { status, type, events } = await stream({ inputs: 'Once upon a', stream: true });
    assert.equal(status, 200);
    assert.match(type ?? '', /^text\/event-stream/);
    assert.deepEqual(
      events.map((e) => e.index),
      events.map((_, i) => i + 1),
    );
    const last = events.at(-1);
    assert.equal(last?.generated_text, ' time there was a little fox who lived in a forest.');
    assert.equal(last?.details?.finish_reason, 'eos_token');
    assert.equal(last?.token.special, true, 'the end-of-text token closes the stream');
    assert.equal(events.map((e) => e.token.text).join(''), last?.generated_text);
    assert.ok(
      events.slice(0, -1).every((e) => e.generated_text === null && e.details === null),
      'only the last event carries the answer',
    );
  });

  it('honours generation parameters: stop sequences and max_new_tokens', async () => {
    const stopped = await stream({ inputs: 'Once upon a', stream: true, parameters: { stop: [' fox'] } });
    assert.equal(stopped.events.at(-1)?.generated_text, ' time there was a little');
    assert.equal(stopped.events.at(-1)?.details?.finish_reason, 'stop_sequence');
    const short = await stream({ inputs: 'Once upon a', stream: true, parameters: { max_new_tokens: 3 } });
    assert.equal(short.events.length, 3);
    assert.deepEqual(short.events.at(-1)?.details, { finish_reason: 'length', generated_tokens: 3 });
  });

  it('is refused, as JSON, for tasks that answer at once', async () => {
    const response = await server.post('/models/sentiment', { inputs: 'I love it', stream: true });
    assert.equal(response.status, 400);
    assert.equal((response.body as { error: { code: string } }).error.code, 'invalid_request');
  });
});

describe('cancelling a generation', () => {
  it('stops generating at the next token once the listener is gone', async () => {
    const runner = await ModelRunner.start({
      path: testModelPath('hubserve-test/tiny-gpt2'),
      task: 'text-generation',
      dtype: 'fp32',
      device: 'cpu',
      instances: 1,
    });
    after(() => runner.dispose());
    // Hot sampling with this seed runs 148 tokens before it happens to sample the end of text.
    const parameters = { temperature: 100, max_new_tokens: 200, seed: 2, details: true };
    type Answer = { details: { generated_tokens: number } }[];
    const full = (await runner.run('text-generation', 'Once upon a', parameters)) as Answer;
    assert.ok((full[0]?.details.generated_tokens ?? 0) > 100, JSON.stringify(full));
    const listener = new AbortController();
    const received: StreamedToken[] = [];
    const cut = (await runner.run('text-generation', 'Once upon a', parameters, {
      signal: listener.signal,
      onToken: (token) => {
        received.push(token);
        if (received.length === 3) listener.abort();
      },
    })) as Answer;
    const generated = cut[0]?.details.generated_tokens ?? Infinity;
    assert.ok(generated < 20, `stopped after ${generated} tokens (${received.length} streamed)`);
  });
});
