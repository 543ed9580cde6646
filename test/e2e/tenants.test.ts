// Tenants: a tenant's own model hides the shared model of the same name from that tenant only; an
// allow-list limits the shared models a tenant sees; and no route lets one tenant reach, or learn of,
// another's model: it answers exactly as for a model that does not exist.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashKey, newKey } from '../../src/auth/keys.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';

const keys = { acme: newKey().key, globex: newKey().key, initech: newKey().key };
let server: TestServer;

before(async () => {
  server = await serve(
    [tiny('sentiment', 'hubserve-test/tiny-sentiment'), tiny('ner', 'hubserve-test/tiny-ner')],
    {
      config: {
        api_keys: Object.entries(keys).map(([tenant, key]) => ({
          name: `${tenant}-app`,
          hash: hashKey(key),
          scopes: ['infer' as const],
          tenant,
        })),
        tenants: [
          // acme's own "sentiment" is an NLI model: its labels tell whose model answered.
          { id: 'acme', models: [tiny('sentiment', 'hubserve-test/tiny-nli')] },
          {
            id: 'globex',
            models: [tiny('globex-secret', 'hubserve-test/tiny-sentiment')],
            allow: ['sentiment'],
          },
        ],
      },
    },
  );
});
after(() => server.close());

const as = (tenant: keyof typeof keys) => ({ authorization: `Bearer ${keys[tenant]}` });
const get = async (path: string, tenant: keyof typeof keys) => {
  const response = await fetch(`${server.url}${path}`, { headers: as(tenant) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const labels = (body: unknown): string[] =>
  ((body as { label: string }[][])[0] ?? []).map((l) => l.label).sort();

/** The answer with the model's name taken out: what is left must not depend on whether it exists. */
const anonymous = (answer: { status: number; body: unknown }, name: string) => ({
  status: answer.status,
  body: JSON.stringify(answer.body).replaceAll(name, 'NAME'),
});

describe('tenants', () => {
  it('give a tenant its own model behind a shared name, and everyone else the shared one', async () => {
    const acme = await server.post('/models/sentiment', { inputs: 'I love it' }, as('acme'));
    const initech = await server.post('/models/sentiment', { inputs: 'I love it' }, as('initech'));
    assert.equal(acme.status, 200, JSON.stringify(acme.body));
    assert.equal(initech.status, 200, JSON.stringify(initech.body));
    assert.deepEqual(labels(initech.body), ['NEGATIVE', 'POSITIVE'], 'the shared model');
    assert.notDeepEqual(labels(acme.body), labels(initech.body), "acme's own model answered acme");

    const listed = (await get('/models', 'acme')).body.models as { name: string; tenant?: string }[];
    assert.deepEqual(
      listed.filter((m) => m.name === 'sentiment').map((m) => m.tenant),
      ['acme'],
      'acme sees one sentiment model: its own',
    );
  });

  it("never let one tenant reach another's model, nor tell it apart from one that does not exist", async () => {
    const routes: [string, string, unknown][] = [
      ['POST', '/models/NAME', { inputs: 'I love it' }],
      ['GET', '/models/NAME', undefined],
      ['POST', '/v1/embeddings', { model: 'NAME', input: 'hello' }],
      ['GET', '/v1/models/NAME', undefined],
      ['GET', '/v2/models/NAME', undefined],
      [
        'POST',
        '/v2/models/NAME/infer',
        { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['hi'] }] },
      ],
      ['POST', '/sessions', { model: 'NAME' }],
    ];
    for (const [method, path, body] of routes) {
      const call = async (name: string) => {
        const response = await fetch(`${server.url}${path.replace('NAME', name)}`, {
          method,
          headers: { ...as('initech'), ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body).replace('NAME', name) } : {}),
        });
        return { status: response.status, body: (await response.json()) as unknown };
      };
      const secret = anonymous(await call('globex-secret'), 'globex-secret');
      const nothing = anonymous(await call('no-such-model'), 'no-such-model');
      assert.equal(secret.status, 404, `${method} ${path}: ${secret.body}`);
      assert.deepEqual(
        { ...secret, body: secret.body.replace(/"request_id":"[^"]*"/, '') },
        { ...nothing, body: nothing.body.replace(/"request_id":"[^"]*"/, '') },
        `${method} ${path} answers the same for another tenant's model and for none`,
      );
    }
    const everything = JSON.stringify([
      (await get('/models', 'initech')).body,
      (await get('/v1/models', 'initech')).body,
      await (await fetch(`${server.url}/ready`)).json(),
    ]);
    assert.doesNotMatch(everything, /globex-secret/, 'no listing names it');
    assert.equal(
      (await server.post('/models/globex-secret', { inputs: 'I love it' }, as('globex'))).status,
      200,
    );
  });

  it('keep a tenant with an allow-list to the shared models on it', async () => {
    assert.equal((await server.post('/models/sentiment', { inputs: 'I love it' }, as('globex'))).status, 200);
    const ner = await server.post('/models/ner', { inputs: 'Alice lives in Paris' }, as('globex'));
    assert.equal(ner.status, 404, 'ner is not on its list');
    const names = ((await get('/models', 'globex')).body.models as { name: string }[])
      .map((m) => m.name)
      .sort();
    assert.deepEqual(names, ['globex-secret', 'sentiment']);
    assert.equal(
      (await server.post('/models/ner', { inputs: 'Alice lives in Paris' }, as('initech'))).status,
      200,
    );
  });
});
