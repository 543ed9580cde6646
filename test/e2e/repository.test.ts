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
import { serve, type TestServer, underLoad } from '../support/server.ts';

const SENTIMENT = testModelPath('hubserve-test/tiny-sentiment');
const NER = testModelPath('hubserve-test/tiny-ner');

const root = mkdtempSync(join(tmpdir(), 'hubserve-repository-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes a file of a repository folder (`root` unless another is given). */
const put = (path: string, text: string, folder = root): void => {
  mkdirSync(join(folder, path, '..'), { recursive: true });
  writeFileSync(join(folder, path), text);
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
    const answers = await underLoad(
      () => classify('sentiment'),
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        cpSync(SENTIMENT, join(root, 'sentiment', '2'), { recursive: true });
        await eventually(
          'version 2 answers',
          async () => (await classify('sentiment')).headers.get('x-hubserve-version') === '2',
        );
        await eventually(
          'version 1 is gone',
          async () => (await versionsOf(server, 'sentiment')).join() === '2',
        );
      },
    );
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

describe('a model repository, when things go wrong', () => {
  it('keeps the serving version when a new one cannot load, a config is half written, or a folder is replaced', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'hubserve-repository-'));
    after(() => rmSync(repo, { recursive: true, force: true }));
    const write = (path: string, text: string): void => put(path, text, repo);
    cpSync(SENTIMENT, join(repo, 'steady', '1'), { recursive: true });
    write('steady/config.yaml', 'instances: 2\n');
    cpSync(SENTIMENT, join(repo, 'moved', '1'), { recursive: true });
    const server = await serve([], { config: { model_repository: { path: repo, poll_s: 0.2 } } });
    after(() => server.close());
    const classify = (model: string) => server.post(`/models/${model}`, { inputs: 'I love it' });
    const instances = async () =>
      (
        (await (await fetch(`${server.management?.url}/models/steady`)).json()) as {
          versions: { instances: number }[];
        }
      ).versions[0]?.instances;
    assert.equal(await instances(), 2);

    // A config.yaml caught half written leaves the model as it is; once whole, a removed field is gone.
    write('steady/config.yaml', 'instances: [oops\n');
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal((await classify('steady')).status, 200, 'still serving while its config.yaml is broken');
    write('steady/config.yaml', 'batching: { max_batch_size: 4 }\n');
    await eventually('the config without instances applies', async () => (await instances()) === 1);

    // A new latest version that cannot load: the old one keeps serving, and the server stays ready.
    write('steady/2/config.json', '{"not": "a model"}');
    await eventually('version 2 was tried', async () => {
      const { models } = (await (await fetch(`${server.management?.url}/models`)).json()) as {
        models: { name: string; version: string; state: string }[];
      };
      return models.some((m) => m.name === 'steady' && m.version === '2' && m.state === 'failed');
    });
    const still = await classify('steady');
    assert.equal(still.status, 200);
    assert.equal(still.headers.get('x-hubserve-version'), '1', 'the failed latest takes no traffic');
    assert.equal(
      (await fetch(`${server.url}/ready`)).status,
      200,
      'a failed repository version is no reason to be unready',
    );

    // A version folder replaced by the next one within one look: never a moment without a model.
    const replaced = await underLoad(
      () => classify('moved'),
      async () => {
        rmSync(join(repo, 'moved', '1'), { recursive: true });
        cpSync(SENTIMENT, join(repo, 'moved', '2'), { recursive: true });
        await eventually(
          'version 2 serves',
          async () => (await classify('moved')).headers.get('x-hubserve-version') === '2',
        );
      },
      1,
    );
    const statuses = replaced.map((a) => a.status);
    assert.deepEqual(
      [...new Set(statuses)],
      [200],
      `every request answered during the replacement (${statuses.length})`,
    );
  });
});
