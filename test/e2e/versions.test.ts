// Model versions and the management API: a traffic split shares requests by weight and keeps each
// user on one version; name@version reaches a version; versions are registered, scaled and removed
// while the server serves, a hot swap under continuous load failing no request; the management API
// wants an admin key and refuses to be exposed without one.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { hashKey, newKey } from '../../src/auth/keys.ts';
import { startServer } from '../../src/server.ts';
import { DEFAULTS } from '../../src/config/schema.ts';
import { hubSettingsFromEnv } from '../../src/hub/index.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { serve, type TestServer, tiny, underLoad } from '../support/server.ts';

const SENTIMENT = testModelPath('hubserve-test/tiny-sentiment');

/** Classifies as `user`; the answer's status and the version that served it. */
async function classify(
  server: TestServer,
  model: string,
  user = 'someone',
): Promise<{ status: number; version: string | null }> {
  const { status, headers } = await server.post(
    `/models/${model}`,
    { inputs: 'I love it' },
    { 'x-user-id': user },
  );
  return { status, version: headers.get('x-hubserve-version') };
}

/** A call to the management API: status and JSON body. */
async function manage(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  assert.ok(server.management, 'the management API listens');
  const response = await fetch(`${server.management.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Classifies with `model` as a new user each time, while `during` runs. */
const loadOn = (server: TestServer, model: string, during: () => Promise<unknown>) =>
  underLoad(
    (worker, i) =>
      server.post(`/models/${model}`, { inputs: 'I love it' }, { 'x-user-id': `user-${worker}-${i}` }),
    during,
    4,
  );

const tally = (versions: (string | null)[]): Record<string, number> =>
  versions.reduce<Record<string, number>>((n, v) => ({ ...n, [String(v)]: (n[String(v)] ?? 0) + 1 }), {});

describe('versions', () => {
  it('share traffic by weight, keep each user on one version, and answer name@version', async () => {
    const server = await serve([
      tiny('sentiment', 'hubserve-test/tiny-sentiment', { version: '1', weight: 70 }),
      tiny('sentiment', 'hubserve-test/tiny-sentiment', { version: '2', weight: 30 }),
    ]);
    after(() => server.close());

    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const first = await Promise.all(users.map((u) => classify(server, 'sentiment', u)));
    assert.ok(
      first.every((a) => a.status === 200),
      'every request answered',
    );
    const share = (tally(first.map((a) => a.version))['2'] ?? 0) / users.length;
    assert.ok(Math.abs(share - 0.3) < 0.07, `version 2 got ${share} of 400 users, weight 30%`);

    const again = await Promise.all(users.slice(0, 100).map((u) => classify(server, 'sentiment', u)));
    assert.deepEqual(
      again.map((a) => a.version),
      first.slice(0, 100).map((a) => a.version),
      'a user sees the same version every time',
    );

    for (const version of ['1', '2']) {
      const pinned = await Promise.all(
        users.slice(0, 20).map((u) => classify(server, `sentiment@${version}`, u)),
      );
      assert.ok(
        pinned.every((a) => a.status === 200 && a.version === version),
        `sentiment@${version}`,
      );
    }
    const missing = await server.post('/models/sentiment@3', { inputs: 'I love it' });
    assert.equal(missing.status, 404, 'an unknown version is not found');
    assert.match((missing.body as { error: { message: string } }).error.message, /no version "3"/);

    const listed = (await (await fetch(`${server.url}/models/sentiment@2`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(listed.version, '2');
    assert.deepEqual(listed.routing, { default_version: '2', versions: ['1', '2'], split: { 1: 70, 2: 30 } });
  });

  it('move all traffic with the routing call, and back', async () => {
    const server = await serve([
      tiny('sentiment', 'hubserve-test/tiny-sentiment', { version: '1', default: true }),
      tiny('sentiment', 'hubserve-test/tiny-sentiment', { version: '2' }),
    ]);
    after(() => server.close());
    const versions = async () =>
      tally(
        (await Promise.all(Array.from({ length: 40 }, (_, i) => classify(server, 'sentiment', `u${i}`)))).map(
          (a) => a.version,
        ),
      );
    assert.deepEqual(await versions(), { 1: 40 }, 'the default takes everything');

    const canary = await manage(server, 'PUT', '/models/sentiment/routing', { split: { 1: 50, 2: 50 } });
    assert.equal(canary.status, 200, JSON.stringify(canary.body));
    const split = await versions();
    assert.ok(
      (split['1'] ?? 0) > 5 && (split['2'] ?? 0) > 5,
      `both versions serve: ${JSON.stringify(split)}`,
    );

    const moved = await manage(server, 'PUT', '/models/sentiment/routing', {
      default_version: '2',
      split: null,
    });
    assert.deepEqual(moved.body, { default_version: '2', versions: ['1', '2'] });
    assert.deepEqual(await versions(), { 2: 40 });

    const wrong = await manage(server, 'PUT', '/models/sentiment/routing', { split: { 7: 1 } });
    assert.equal(wrong.status, 400, 'a split over an unknown version is refused');
    assert.equal((wrong.body.error as { code: string }).code, 'invalid_request');
  });
});

describe('the management API', () => {
  it('hot-swaps a model under continuous load without failing a request', async () => {
    const server = await serve([tiny('swap', 'hubserve-test/tiny-sentiment', { version: '1' })]);
    after(() => server.close());
    const answers = await loadOn(server, 'swap', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const added = await manage(server, 'POST', '/models', {
        name: 'swap',
        version: '2',
        source: SENTIMENT,
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(
        added.body.state,
        'ready',
        'registered versions are loaded and warm when the call returns',
      );
      assert.equal(
        (await manage(server, 'PUT', '/models/swap/routing', { default_version: '2' })).status,
        200,
      );
      const removed = await manage(server, 'DELETE', '/models/swap/versions/1');
      assert.deepEqual(removed.body, { removed: ['1'] });
      await new Promise((resolve) => setTimeout(resolve, 300));
    });

    assert.ok(answers.length > 50, `a continuous load: ${answers.length} requests`);
    const failed = answers.filter((a) => a.status !== 200);
    assert.equal(
      failed.length,
      0,
      `${failed.length} of ${answers.length} failed: ${JSON.stringify(failed.slice(0, 3))}`,
    );
    const seen = tally(answers.map((a) => a.version));
    assert.ok(
      (seen['1'] ?? 0) > 0 && (seen['2'] ?? 0) > 0,
      `both versions answered: ${JSON.stringify(seen)}`,
    );
    const described = await manage(server, 'GET', '/models/swap');
    assert.deepEqual((described.body.routing as { versions: string[] }).versions, ['2'], 'version 1 is gone');
    assert.equal((await classify(server, 'swap@1')).status, 404);
  });

  it('scales a version and changes its batching while it serves, failing nothing', async () => {
    const server = await serve([tiny('scaled', 'hubserve-test/tiny-sentiment')]);
    after(() => server.close());
    let change: Awaited<ReturnType<typeof manage>> | undefined;
    const answers = await loadOn(server, 'scaled', async () => {
      change = await manage(server, 'PATCH', '/models/scaled/versions/1', {
        instances: 2,
        batching: { max_batch_size: 4 },
      });
    });
    assert.ok(change, 'the PATCH answered');
    assert.equal(change.status, 200, JSON.stringify(change.body));
    assert.equal(change.body.instances, 2);
    assert.equal((change.body.queue as { workers: number }).workers, 2, 'two workers run');
    assert.deepEqual(
      tally(answers.map((a) => String(a.status))),
      { 200: answers.length },
      'no request failed',
    );

    const refused = await manage(server, 'PATCH', '/models/scaled/versions/1', { source: '/elsewhere' });
    assert.equal(refused.status, 400, 'what a version is cannot change, only how it runs');
  });

  it('refuses a version that cannot load, and keeps nothing of it', async () => {
    const server = await serve([tiny('kept', 'hubserve-test/tiny-sentiment')]);
    after(() => server.close());
    const bad = await manage(server, 'POST', '/models', { name: 'broken', source: '/no/such/model' });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.match((bad.body.error as { message: string }).message, /broken@1" failed to load/);
    const listed = await manage(server, 'GET', '/models');
    assert.deepEqual(
      (listed.body.models as { name: string }[]).map((m) => m.name),
      ['kept'],
    );
    const twice = await manage(server, 'POST', '/models', { name: 'kept', source: SENTIMENT });
    assert.equal(twice.status, 409, 'a version that exists is not registered again');
    const doc = (await (await fetch(`${server.management?.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const path of [
      '/models',
      '/models/{name}',
      '/models/{name}/versions/{version}',
      '/models/{name}/routing',
    ])
      assert.ok(doc.paths[path], `${path} documented`);
  });

  it('keeps routing and sessions honest when versions fail or go away', async () => {
    const server = await serve([
      tiny('kept', 'hubserve-test/tiny-sentiment', { version: '1', default: true }),
      tiny('kept', 'hubserve-test/tiny-sentiment', { version: '2' }),
    ]);
    after(() => server.close());
    const bad = await manage(server, 'POST', '/models', {
      name: 'kept',
      version: '3',
      source: '/no/such/model',
      default: true,
    });
    assert.equal(bad.status, 400);
    const routing = await manage(server, 'GET', '/models/kept');
    assert.equal(
      (routing.body.routing as { default_version: string }).default_version,
      '1',
      'a version that failed to load does not become the default',
    );

    const created = await server.post('/sessions', { model: 'kept@2' });
    const session = (created.body as { id: string }).id;
    assert.equal((created.body as { version: string }).version, '2');
    const held = await server.post('/models/kept', { inputs: 'I love it' }, { 'x-session-id': session });
    assert.equal(held.headers.get('x-hubserve-version'), '2', 'a session keeps its version');
    assert.deepEqual((await manage(server, 'DELETE', '/models/kept/versions/2')).body, { removed: ['2'] });
    const ended = await server.post('/models/kept', { inputs: 'I love it' }, { 'x-session-id': session });
    assert.equal(ended.status, 404, 'a session on a removed version ends');
    assert.equal((ended.body as { error: { code: string } }).error.code, 'session_not_found');

    const both = await Promise.all([
      manage(server, 'PATCH', '/models/kept/versions/1', { instances: 2 }),
      manage(server, 'PATCH', '/models/kept/versions/1', { instances: 1 }),
    ]);
    assert.deepEqual(
      both.map((r) => r.status),
      [200, 200],
      'changes to one version apply one after the other',
    );
    const [last] = (await manage(server, 'GET', '/models/kept')).body.versions as {
      instances: number;
      queue: { workers: number };
    }[];
    assert.deepEqual([last?.instances, last?.queue.workers], [1, 1], 'the last change stands');
  });

  it('needs an admin key when the server has keys, and is never exposed without one', async () => {
    const admin = newKey().key;
    const user = newKey().key;
    const server = await serve([tiny('guarded', 'hubserve-test/tiny-sentiment')], {
      config: {
        api_keys: [
          { name: 'ops', hash: hashKey(admin), scopes: ['admin'] },
          { name: 'app', hash: hashKey(user), scopes: ['infer'] },
        ],
      },
    });
    after(() => server.close());
    assert.equal((await manage(server, 'GET', '/models')).status, 401, 'no key');
    assert.equal(
      (await manage(server, 'GET', '/models', undefined, { authorization: `Bearer ${user}` })).status,
      403,
    );
    assert.equal(
      (await manage(server, 'GET', '/models', undefined, { authorization: `Bearer ${admin}` })).status,
      200,
    );

    const exposed = startServer(
      { ...DEFAULTS, port: 0, log_level: 'silent', insecure: true, management: { host: '0.0.0.0', port: 0 } },
      hubSettingsFromEnv({}),
      'test',
    );
    await assert.rejects(exposed, /management API on 0\.0\.0\.0 without an admin API key/);
  });
});
