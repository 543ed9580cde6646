// Models loaded on their first request and kept within a memory budget: concurrent first requests
// share one load; the least recently used idle model makes room; a model with requests in flight is
// never unloaded; idle models unload; a budget full of busy models answers 503, not a hang; a
// session holds its model loaded until it ends or expires, and is its tenant's only.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { newKey } from '../../src/auth/keys.ts';
import type { ModelConfigEntry } from '../../src/config/schema.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';

interface Listed {
  name: string;
  state: string;
  loads: number;
  resident_bytes?: number;
}

const onDemand = (name: string, id: Parameters<typeof tiny>[1]): ModelConfigEntry =>
  tiny(name, id, { load: 'on_demand' });

const models = async (server: TestServer): Promise<Record<string, Listed>> => {
  const { models: list } = (await (await fetch(`${server.url}/models`)).json()) as { models: Listed[] };
  return Object.fromEntries(list.map((m) => [m.name, m]));
};

const classify = (server: TestServer, name: string) =>
  server.post(`/models/${name}`, { inputs: 'I love it' });

describe('models loaded on demand', () => {
  it('load on their first request, once for all the requests that wait for it', async () => {
    const server = await serve([onDemand('lazy', 'hubserve-test/tiny-sentiment')]);
    after(() => server.close());
    assert.equal((await models(server)).lazy?.state, 'unloaded');
    assert.equal(
      (await fetch(`${server.url}/ready`)).status,
      200,
      'an unloaded on-demand model is no reason to be unready',
    );
    const answers = await Promise.all(Array.from({ length: 12 }, () => classify(server, 'lazy')));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(12).fill(200),
    );
    const lazy = (await models(server)).lazy;
    assert.equal(lazy?.state, 'ready');
    assert.equal(lazy?.loads, 1, 'one load shared by the twelve first requests');
  });

  it('unload when idle, and load again on the next request', async () => {
    const server = await serve([onDemand('lazy', 'hubserve-test/tiny-sentiment')], {
      config: { memory: { idle_unload_after_s: 0.5 } },
    });
    after(() => server.close());
    assert.equal((await classify(server, 'lazy')).status, 200);
    for (let i = 0; i < 60 && (await models(server)).lazy?.state !== 'unloaded'; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await models(server)).lazy?.state, 'unloaded', 'unloaded after half a second idle');
    assert.equal((await classify(server, 'lazy')).status, 200);
    assert.equal((await models(server)).lazy?.loads, 2);
  });
});

describe('the memory budget', () => {
  it('makes room by unloading the least recently used idle model, and measures what each takes', async () => {
    const server = await serve(
      [
        onDemand('a', 'hubserve-test/tiny-sentiment'),
        onDemand('b', 'hubserve-test/tiny-ner'),
        onDemand('c', 'hubserve-test/tiny-nli'),
      ],
      { config: { memory: { max_loaded_models: 2 } } },
    );
    after(() => server.close());
    for (const name of ['a', 'b', 'c']) assert.equal((await classify(server, name)).status, 200, name);
    let listed = await models(server);
    assert.deepEqual(
      ['a', 'b', 'c'].map((n) => listed[n]?.state),
      ['unloaded', 'ready', 'ready'],
      'a, the least recently used, made room for c',
    );
    assert.equal((await classify(server, 'b')).status, 200); // b is now more recent than c
    assert.equal((await classify(server, 'a')).status, 200);
    listed = await models(server);
    assert.deepEqual(
      ['a', 'b', 'c'].map((n) => listed[n]?.state),
      ['ready', 'ready', 'unloaded'],
    );
    assert.ok((listed.b?.resident_bytes ?? 0) > 0, `measured: ${listed.b?.resident_bytes}`);
    const { memory } = (await (await fetch(`${server.url}/models`)).json()) as {
      memory: { loaded_models: number; max_loaded_models: number; loaded_bytes: number };
    };
    assert.equal(memory.loaded_models, 2);
    assert.equal(memory.max_loaded_models, 2);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^hubserve_memory_budget\{measure="loaded_models"\} 2$/m);
  });

  it('never unloads a model with requests in flight; when all are busy, a load waits, then 503', async () => {
    const server = await serve(
      [onDemand('gpt2', 'hubserve-test/tiny-gpt2'), onDemand('sentiment', 'hubserve-test/tiny-sentiment')],
      { config: { memory: { max_loaded_models: 1, load_wait_s: 0.5 } } },
    );
    after(() => server.close());
    const long = { inputs: 'Once upon a', parameters: { max_new_tokens: 240 } };
    // A load longer than load_wait_s answers 503 + Retry-After meanwhile: retry as a client would.
    const retried = async (send: () => Promise<{ status: number }>): Promise<number> => {
      let response = await send();
      for (let i = 0; i < 100 && response.status === 503; i++) {
        await new Promise((r) => setTimeout(r, 100));
        response = await send();
      }
      return response.status;
    };
    assert.equal(await retried(() => server.post('/models/gpt2', long)), 200, 'gpt2 loaded');
    const busy = Array.from({ length: 8 }, () => server.post('/models/gpt2', long));
    await new Promise((r) => setTimeout(r, 50));
    const refused = await classify(server, 'sentiment');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.ok(refused.headers.get('retry-after'), 'Retry-After');
    const answered = await Promise.all(busy);
    assert.deepEqual(
      answered.map((a) => a.status),
      Array(8).fill(200),
      'the busy model kept serving',
    );
    assert.equal(await retried(() => classify(server, 'sentiment')), 200, 'room once gpt2 is idle');
    assert.equal((await models(server)).gpt2?.state, 'unloaded');
  });
});

describe('sessions', () => {
  const session = async (server: TestServer, body: unknown, headers: Record<string, string> = {}) =>
    server.post('/sessions', body, headers);
  const retried = async (send: () => Promise<{ status: number }>, tries = 100): Promise<number> => {
    let response = await send();
    for (let i = 0; i < tries && response.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 100));
      response = await send();
    }
    return response.status;
  };

  it('load their model, route requests by X-Session-Id, and end on DELETE', async () => {
    const server = await serve([onDemand('lazy', 'hubserve-test/tiny-sentiment')]);
    after(() => server.close());
    const created = await session(server, { model: 'lazy', ttl_s: 60 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { id, expires_at } = created.body as { id: string; expires_at: string };
    assert.equal((await models(server)).lazy?.state, 'ready', 'loaded by the session');
    const used = await server.post('/models/lazy', { inputs: 'I love it' }, { 'x-session-id': id });
    assert.equal(used.status, 200);
    const seen = (await (await fetch(`${server.url}/sessions/${id}`)).json()) as { expires_at: string };
    assert.ok(seen.expires_at >= expires_at, 'a use keeps it alive');
    const elsewhere = await server.post('/models/other', { inputs: 'x' }, { 'x-session-id': id });
    assert.equal(elsewhere.status, 404, 'an unknown model is still unknown');
    assert.equal((await fetch(`${server.url}/sessions/${id}`, { method: 'DELETE' })).status, 204);
    const gone = await server.post('/models/lazy', { inputs: 'x' }, { 'x-session-id': id });
    assert.equal(gone.status, 404);
    assert.equal((gone.body as { error: { code: string } }).error.code, 'session_not_found');
  });

  it('keep their model loaded under eviction pressure, until they end or expire', async () => {
    const server = await serve(
      [onDemand('held', 'hubserve-test/tiny-sentiment'), onDemand('other', 'hubserve-test/tiny-ner')],
      { config: { memory: { max_loaded_models: 1, load_wait_s: 0.3 } } },
    );
    after(() => server.close());
    const first = await session(server, { model: 'held', ttl_s: 60 });
    const { id } = first.body as { id: string };
    assert.equal(await retried(() => classify(server, 'other'), 3), 503, 'no room: held is pinned');
    assert.equal((await models(server)).held?.state, 'ready');
    assert.equal((await fetch(`${server.url}/sessions/${id}`, { method: 'DELETE' })).status, 204);
    assert.equal(await retried(() => classify(server, 'other')), 200, 'room once the session ended');
    assert.equal((await models(server)).held?.state, 'unloaded');

    await session(server, { model: 'held', ttl_s: 1 }); // expires a second after its last use
    assert.equal(await retried(() => classify(server, 'held')), 200);
    assert.equal(await retried(() => classify(server, 'other')), 200, 'room once the session expired');
  });

  it("are their tenant's: another tenant's key does not find them", async () => {
    const [a, b] = [newKey(), newKey()];
    const server = await serve([tiny('sentiment', 'hubserve-test/tiny-sentiment')], {
      config: {
        api_keys: [
          { name: 'a', hash: a.hash, scopes: ['infer'], tenant: 'acme' },
          { name: 'b', hash: b.hash, scopes: ['infer'], tenant: 'globex' },
        ],
      },
    });
    after(() => server.close());
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });
    const { id } = (await session(server, { model: 'sentiment' }, auth(a.key))).body as { id: string };
    assert.equal((await fetch(`${server.url}/sessions/${id}`, { headers: auth(a.key) })).status, 200);
    assert.equal((await fetch(`${server.url}/sessions/${id}`, { headers: auth(b.key) })).status, 404);
    const borrowed = await server.post(
      '/models/sentiment',
      { inputs: 'hi' },
      { ...auth(b.key), 'x-session-id': id },
    );
    assert.equal(borrowed.status, 404);
  });
});
