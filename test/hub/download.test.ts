// A generated model downloaded from the mock Hub with the real @huggingface/hub client into an empty
// Hugging Face cache, then loaded by transformers.js with the Hub unreachable.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it, mock } from 'node:test';
import { snapshotDownload } from '@huggingface/hub';
import { env, pipeline } from '@huggingface/transformers';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { startMockHub } from '../support/mock-hub.ts';

const REPO = 'hubserve-test/tiny-sentiment';

it('downloads a model into an empty cache, then serves it offline', async () => {
  mock.method(console, 'debug', () => undefined); // @huggingface/hub logs each file
  const cacheDir = mkdtempSync(join(tmpdir(), 'hubserve-hf-cache-'));
  after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const hub = await startMockHub({ repos: { [REPO]: { dir: testModelPath(REPO) } } });

  const snapshot = await snapshotDownload({ repo: REPO, hubUrl: hub.url, cacheDir });
  assert.equal(snapshot, join(cacheDir, 'models--hubserve-test--tiny-sentiment', 'snapshots', hub.sha(REPO)));
  assert.equal(
    readFileSync(join(cacheDir, 'models--hubserve-test--tiny-sentiment', 'refs', 'main'), 'utf8'),
    hub.sha(REPO),
  );
  const downloaded = hub.requests.filter((r) => r.method === 'GET' && r.path.includes('/resolve/')).length;
  assert.ok(downloaded >= 5, `${downloaded} file downloads`);
  await hub.close();

  env.allowRemoteModels = false;
  env.remoteHost = `${hub.url}/`; // unreachable now: any remote fetch would fail
  const classify = await pipeline('text-classification', snapshot);
  const [result] = await classify('What a wonderful and friendly team');
  assert.equal(result?.label, 'POSITIVE');
});
