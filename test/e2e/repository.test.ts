// A model repository folder served while it changes: versions found at start are served; a new
// version dropped in under load takes over once warm without failing a request (policy: latest);
// `all` serves every version; a pointer folder serves another source; removed models go away; a
// broken config.yaml skips its model, not the others.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { serve, type TestServer } from '../support/server.ts';

const SENTIMENT = testModelPath('hubserve-test/tiny-sentiment');
const NER = testModelPath('hubserve-test/tiny-ner');

const root = mkdtempSync(join(tmpdir(), 'hubserve-repository-'));
after(() => rmSync(root, { recursive: true, force: true }));

const put = (path: string, text: string): void => {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
};

/** Waits (a bounded while) for `check` to hold. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const versionsOf = async (server: TestServer, name: string): Promise<string[]> => {
  const { models } = (await (await fetch(`${server.management?.url}/models`)).json()) as {
    models: { name: string; version: string; state: string }[];
  };
  return models.filter((m) => m.name === name && m.state === 'ready').map((m) => m.version);
};

describe('a model repository', () => {
  it('serves its folders, and follows new, removed and broken ones while serving', async () => {
    cpSync(SENTIMENT, join(root, 'sentiment', '1'), { recursive: true });
    put('pointer/3/source.yaml', `source: ${JSON.stringify(NER)}\n`);
    put('multi/config.yaml', 'version_policy: { all: {} }\ninstances: 1\n');
    cpSync(SENTIMENT, join(root, 'multi', '1'), { recursive: true });
    cpSync(SENTIMENT, join(root, 'multi', '2'), { recursive: true });
    put('broken/config.yaml', 'instances: lots\n');
    cpSync(SENTIMENT, join(root, 'broken', '1'), { recursive: true });

    const server = await serve([], { config: { model_repository: { path: root, poll_s: 0.2 } } });
    after(() => server.close());
    const classify = (model: string) => server.post(`/models/${model}`, { inputs: 'I love it' });

    assert.deepEqual(await versionsOf(server, 'sentiment'), ['1']);
    assert.deepEqual((await versionsOf(server, 'multi')).sort(), ['1', '2'], 'policy all: every version');
    const entities = await server.post('/models/pointer', { inputs: 'Alice lives in Paris' });
    assert.equal(entities.status, 200, 'a source.yaml pointer serves its source');
    assert.equal(entities.headers.get('x-hubserve-version'), '3');
    assert.equal((await classify('broken')).status, 404, 'a model with a broken config.yaml is skipped');
    assert.equal((await classify('multi@1')).status, 200);

    // A new version dropped in while requests flow: it takes over once warm, the old one goes.
    const answers: { status: number; version: string | null; body: unknown }[] = [];
    let done = false;
    const load = Promise.all(
      [0, 1, 2].map(async () => {
        while (!done) {
          const answer = await classify('sentiment');
          answers.push({
            status: answer.status,
            version: answer.headers.get('x-hubserve-version'),
            body: answer.body,
          });
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    cpSync(SENTIMENT, join(root, 'sentiment', '2'), { recursive: true });
    try {
      await eventually('version 2 answers', async () => answers.at(-1)?.version === '2');
      await eventually(
        'version 1 is gone',
        async () => (await versionsOf(server, 'sentiment')).join() === '2',
      );
    } finally {
      done = true;
      await load;
    }
    const failed = answers.filter((a) => a.status !== 200);
    assert.equal(
      failed.length,
      0,
      `${failed.length} of ${answers.length} failed during the swap: ${JSON.stringify(failed.slice(0, 2))}`,
    );
    assert.ok(
      answers.some((a) => a.version === '1'),
      'version 1 served before',
    );

    rmSync(join(root, 'pointer'), { recursive: true });
    await eventually('a removed model is gone', async () => (await classify('pointer')).status === 404);
    assert.equal((await classify('sentiment')).status, 200, 'the others still serve');
  });
});
