// The conversation socket: utterances in, results out as soon as each is ready, tagged with its id.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { serve, type TestServer, tiny } from '../support/server.ts';

interface Out {
  id: string | number | null;
  result?: unknown;
  token?: { text: string };
  error?: { code: string; message: string };
}

let server: TestServer;
before(async () => {
  server = await serve(
    [
      tiny('sentiment', 'hubserve-test/tiny-sentiment'),
      tiny('ner', 'hubserve-test/tiny-ner'),
      tiny('gpt2', 'hubserve-test/tiny-gpt2'),
    ],
    { config: { max_in_flight_per_connection: 4 } },
  );
});
after(() => server.close());

/**
 * Opens a socket; `until(n)` resolves with the first n messages received from now on, `answered(ids)`
 * with everything received until each id has its result or error.
 */
async function connect(): Promise<{
  socket: WebSocket;
  send: (m: unknown) => void;
  until: (n: number) => Promise<Out[]>;
  answered: (ids: (string | number)[]) => Promise<Out[]>;
}> {
  const socket = new WebSocket(`${server.url.replace('http', 'ws')}/conversation`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const received: Out[] = [];
  let waiter: (() => void) | undefined;
  socket.on('message', (data) => {
    received.push(JSON.parse(String(data)) as Out);
    waiter?.();
  });
  const when = (done: () => number | undefined): Promise<Out[]> =>
    new Promise((resolve) => {
      const check = (): void => {
        const n = done();
        if (n !== undefined) resolve(received.splice(0, n));
      };
      waiter = check;
      check();
    });
  const until = (n: number): Promise<Out[]> => when(() => (received.length >= n ? n : undefined));
  const answered = (ids: (string | number)[]): Promise<Out[]> =>
    when(() =>
      ids.every((id) => received.some((m) => m.id === id && (m.result !== undefined || m.error)))
        ? received.length
        : undefined,
    );
  return { socket, send: (m) => socket.send(typeof m === 'string' ? m : JSON.stringify(m)), until, answered };
}

describe('GET /conversation (WebSocket)', () => {
  it('answers each utterance with its id, several at once, tokens first when streaming', async () => {
    const { socket, send, answered } = await connect();
    send({ id: 'a', model: 'sentiment', inputs: 'I love this place' });
    send({ id: 2, model: 'ner', inputs: 'Alice moved to Paris' });
    send({ id: 'g', model: 'gpt2', inputs: 'The quick brown', stream: true });
    const messages = await answered(['a', 2, 'g']);
    const byId = (id: string | number): Out[] => messages.filter((m) => m.id === id);
    assert.equal(
      (byId('a')[0]?.result as { label: string }[][])[0]?.[0]?.label,
      'POSITIVE',
      JSON.stringify(byId('a')),
    );
    assert.deepEqual(
      (byId(2)[0]?.result as { word: string }[]).map((e) => e.word),
      ['Alice', 'Paris'],
    );
    const generation = byId('g');
    const tokens = generation.filter((m) => m.token).map((m) => m.token?.text ?? '');
    const last = generation.at(-1)?.result as { generated_text: string }[];
    assert.equal(tokens.join(''), ' fox jumps over the lazy dog.');
    assert.ok(generation.at(-1)?.result, 'the result comes after the tokens');
    assert.equal(last[0]?.generated_text, ' fox jumps over the lazy dog.');
    socket.close();
  });

  it('fails a bad message alone, with the error contract, and keeps the connection', async () => {
    const { socket, send, until } = await connect();
    send('{not json');
    send({ id: 'm', model: 'nope', inputs: 'x' });
    send({ id: 'i', model: 'sentiment', inputs: 42 });
    send({ model: 'sentiment', inputs: 'no id' });
    send({ id: 'ok', model: 'sentiment', inputs: 'What a wonderful day' });
    const messages = await until(5);
    const errorOf = (id: string | null): string | undefined =>
      messages.find((m) => m.id === id && m.error)?.error?.code;
    assert.equal(errorOf('m'), 'model_not_found');
    assert.equal(errorOf('i'), 'invalid_request');
    assert.equal(messages.filter((m) => m.id === null && m.error?.code === 'invalid_request').length, 2);
    assert.ok(messages.find((m) => m.id === 'ok')?.result, JSON.stringify(messages));
    socket.close();
  });

  it('bounds the messages in flight on one connection', async () => {
    const { socket, send, until } = await connect();
    for (let i = 0; i < 10; i++) send({ id: i, model: 'gpt2', inputs: 'Once upon a' });
    const messages = await until(10);
    const refused = messages.filter((m) => m.error?.code === 'overloaded');
    const answered = messages.filter((m) => m.result);
    assert.equal(refused.length + answered.length, 10, JSON.stringify(messages));
    assert.ok(
      refused.length >= 6 && answered.length >= 4,
      `${answered.length} answered, ${refused.length} refused`,
    );
    socket.close();
  });
});
