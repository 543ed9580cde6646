// What a server exposed on a network refuses: callers without the right API key, tenants over their
// rate or quota, browsers from origins not configured, model folders outside the allowed ones; and it
// will not start exposed without keys.
import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { AuthenticationError } from 'openai';
import WebSocket from 'ws';
import { hashKey, newKey } from '../../src/auth/keys.ts';
import { startServer } from '../../src/server.ts';
import { DEFAULTS } from '../../src/config/schema.ts';
import { hubSettingsFromEnv } from '../../src/hub/index.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';

const keys = {
  acme: newKey().key,
  prometheus: newKey().key,
  admin: newKey().key,
  limited: newKey().key,
  quota: newKey().key,
};

let server: TestServer;
before(async () => {
  server = await serve([tiny('sentiment', 'hubserve-test/tiny-sentiment')], {
    config: {
      api_keys: [
        { name: 'acme-app', hash: hashKey(keys.acme), scopes: ['infer'], tenant: 'acme' },
        { name: 'prometheus', hash: hashKey(keys.prometheus), scopes: ['metrics'] },
        { name: 'ops', hash: hashKey(keys.admin), scopes: ['admin'] },
        {
          name: 'limited',
          hash: hashKey(keys.limited),
          scopes: ['infer'],
          rate_limit: { requests_per_s: 0.5, burst: 3 },
        },
        { name: 'trial', hash: hashKey(keys.quota), scopes: ['infer'], daily_quota: 2 },
      ],
    },
  });
});
after(() => server.close());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const classify = (headers: Record<string, string> = {}) =>
  server.post('/models/sentiment', { inputs: 'I love it' }, headers);
const code = (body: unknown): string | undefined => (body as { error?: { code?: string } }).error?.code;

describe('API keys', () => {
  it('refuses a request without a key, or with one that is not ours, with 401 and how to authenticate', async () => {
    for (const headers of [{}, bearer('hs_not-a-key'), { authorization: keys.acme }]) {
      const response = await classify(headers);
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.equal(code(response.body), 'unauthorized');
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });

  it('lets a key with the scope in, and refuses one without it with 403', async () => {
    assert.equal((await classify(bearer(keys.acme))).status, 200);
    assert.equal((await classify(bearer(keys.admin))).status, 200, 'admin may do everything');
    const metricsOnly = await classify(bearer(keys.prometheus));
    assert.equal(metricsOnly.status, 403);
    assert.equal(code(metricsOnly.body), 'forbidden');
    const metrics = (key: string) => fetch(`${server.url}/metrics`, { headers: bearer(key) });
    assert.equal((await metrics(keys.prometheus)).status, 200);
    assert.equal((await metrics(keys.acme)).status, 403, 'an infer key does not read metrics');
  });

  it('keeps probes, the playground and the API docs open', async () => {
    for (const path of ['/health', '/v2/health/live', '/', '/docs/']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200, path);
    }
  });

  it('speaks each protocol: OpenAI clients get their AuthenticationError, KServe clients its error shape', async () => {
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'hs_wrong', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), AuthenticationError);
    const right = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: keys.acme, maxRetries: 0 });
    assert.equal((await right.models.list()).data.length, 1);
    const v2 = await server.post('/v2/models/sentiment/infer', {
      inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['I love it'] }],
    });
    assert.equal(v2.status, 401);
    assert.equal(typeof (v2.body as { error: unknown }).error, 'string');
  });

  it("limits a tenant's rate: 429 with Retry-After past its burst", async () => {
    const statuses = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const response = await classify(bearer(keys.limited));
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        assert.equal(code(response.body), 'rate_limited');
      }
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], 'the burst passes');
    assert.equal(statuses.at(-1), 429, statuses.join(' '));
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    assert.equal((await classify(bearer(keys.acme))).status, 200, 'other tenants are not limited by it');
  });

  it('stops a key at its daily quota, messages on the conversation socket included', async () => {
    assert.equal((await classify(bearer(keys.quota))).status, 200);
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/conversation`, {
      headers: bearer(keys.quota),
    });
    const answers: { id: number; result?: unknown; error?: { code: string } }[] = [];
    socket.on('message', (data) => answers.push(JSON.parse(String(data)) as (typeof answers)[number]));
    await new Promise((resolve) => socket.once('open', resolve));
    for (const id of [1, 2]) socket.send(JSON.stringify({ id, model: 'sentiment', inputs: 'I love it' }));
    for (let i = 0; i < 100 && answers.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    socket.close();
    assert.deepEqual(
      answers.sort((a, b) => a.id - b.id).map((a) => (a.result ? 'answered' : a.error?.code)),
      ['answered', 'quota_exceeded'],
      'the second message is the third request of the day',
    );
    const over = await classify(bearer(keys.quota));
    assert.equal(over.status, 429);
    assert.equal(code(over.body), 'quota_exceeded');
    assert.ok(Number(over.headers.get('retry-after')) > 0, 'retry after midnight UTC');
  });
});

describe('exposure', () => {
  it('refuses to listen beyond loopback without keys, naming the ways out', async () => {
    const config = { ...DEFAULTS, host: '0.0.0.0', port: 0, log_level: 'silent' as const, models: [] };
    await assert.rejects(startServer(config, hubSettingsFromEnv({}), 'test'), (error: Error) => {
      assert.match(error.message, /refusing to listen on 0\.0\.0\.0 without API keys/);
      assert.match(error.message, /--insecure/);
      return true;
    });
  });

  it('serves a loopback address without keys (local development)', async () => {
    const local = await serve([], { config: { host: '127.0.0.1' } });
    try {
      assert.equal((await fetch(`${local.url}/v1/models`)).status, 200);
    } finally {
      await local.close();
    }
  });
});

describe('CORS', () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/models/sentiment`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('is off unless configured: no Access-Control headers', async () => {
    const response = await classify({ ...bearer(keys.acme), origin: 'https://evil.example' });
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    assert.equal(
      (await preflight(server.url, 'https://evil.example')).headers.get('access-control-allow-origin'),
      null,
    );
  });

  it('answers the configured origins only, preflight included, without asking the preflight for a key', async () => {
    const key = newKey();
    const open = await serve([tiny('sentiment', 'hubserve-test/tiny-sentiment')], {
      config: {
        cors_origins: ['https://app.example'],
        api_keys: [{ name: 'web', hash: key.hash, scopes: ['infer'] }],
      },
    });
    after(() => open.close());
    const allowed = await preflight(open.url, 'https://app.example');
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(allowed.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    const refused = await open.post('/models/sentiment', { inputs: 'hi' }, { origin: 'https://app.example' });
    assert.equal(refused.status, 401);
    assert.equal(
      refused.headers.get('access-control-allow-origin'),
      'https://app.example',
      'a browser can read the refusal',
    );
    const other = await preflight(open.url, 'https://evil.example');
    assert.notEqual(other.headers.get('access-control-allow-origin'), 'https://evil.example');
    const call = await open.post(
      '/models/sentiment',
      { inputs: 'I love it' },
      {
        ...bearer(key.key),
        origin: 'https://app.example',
      },
    );
    assert.equal(call.status, 200);
    assert.equal(call.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(call.headers.get('access-control-expose-headers') ?? '', /Server-Timing/);
  });
});

describe('model folders', () => {
  it('serves local models only from the configured folders', async () => {
    const inside = testModelPath('hubserve-test/tiny-sentiment');
    const confined = await serve(
      [
        { name: 'inside', source: inside },
        { name: 'outside', source: testModelPath('hubserve-test/tiny-ner') },
        { name: 'sneaky', source: `${dirname(inside)}/../${basename(dirname(inside))}/../../../../etc` },
      ],
      { config: { model_dirs: [inside] } },
    );
    after(() => confined.close());
    const state = async (name: string) =>
      (await (await fetch(`${confined.url}/models/${name}`)).json()) as {
        state: string;
        error?: { code: string };
      };
    assert.equal((await state('inside')).state, 'ready');
    for (const name of ['outside', 'sneaky']) {
      const model = await state(name);
      assert.equal(model.state, 'failed', name);
      assert.equal(model.error?.code, 'local_path_not_allowed', name);
    }
  });
});

describe('request limits', () => {
  it("refuses what goes past the operator's limits with 422, on every route", async () => {
    const limited = await serve(
      [
        tiny('sentiment', 'hubserve-test/tiny-sentiment'),
        tiny('gpt2', 'hubserve-test/tiny-gpt2'),
        tiny('qa', 'hubserve-test/tiny-qa'),
      ],
      {
        config: { limits: { max_inputs: 2, max_input_chars: 50, max_new_tokens: 8 } },
      },
    );
    after(() => limited.close());
    const refused = async (path: string, body: unknown, what: RegExp) => {
      const response = await limited.post(path, body);
      assert.equal(response.status, 422, `${path}: ${JSON.stringify(response.body)}`);
      assert.match(JSON.stringify(response.body), what);
    };
    await refused(
      '/models/sentiment',
      { inputs: ['a', 'b', 'c'] },
      /inputs in the request: 3, over this server's limit of 2/,
    );
    await refused('/models/sentiment', { inputs: 'x'.repeat(51) }, /characters in an input: 51/);
    await refused('/models/gpt2', { inputs: 'Once', parameters: { max_new_tokens: 9 } }, /max_new_tokens: 9/);
    await refused(
      '/v1/completions',
      { model: 'gpt2', prompt: 'Once', max_tokens: 9 },
      /"type":"invalid_request_error"/,
    );
    await refused(
      '/models/sentiment',
      { inputs: 'The team won', parameters: { candidate_labels: ['sports', 'politics', 'music'] } },
      /inputs in the request: 3/,
    );
    const tensor = (name: string, text: string) => ({
      name,
      shape: [3],
      datatype: 'BYTES',
      data: Array(3).fill(text),
    });
    const v2 = await limited.post('/v2/models/qa/infer', {
      inputs: [tensor('question', 'Where?'), tensor('context', 'In Paris.')],
    });
    assert.equal(v2.status, 422, JSON.stringify(v2.body));
    const unbounded = (await limited.post('/models/gpt2', {
      inputs: 'Once upon a',
      parameters: { details: true },
    })) as { body: { details: { generated_tokens: number } }[] };
    assert.ok(
      (unbounded.body[0]?.details.generated_tokens ?? 99) <= 8,
      'an unset max_new_tokens gets the limit',
    );
    const chat = { role: 'user', content: 'Once upon a' };
    const within = await limited.post('/v1/chat/completions', {
      model: 'gpt2',
      messages: [chat, chat, chat],
      max_tokens: 8,
    });
    assert.equal(within.status, 200, 'a chat of three messages is one input');
    assert.equal((await limited.post('/models/sentiment', { inputs: ['a', 'b'] })).status, 200);
  });
});
