// resolveModel against the mock Hub on loopback, with the real @huggingface/hub client and real caches.
import assert from 'node:assert/strict';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { env, pipeline } from '@huggingface/transformers';
import { pullModels, resolveModel, type DownloadProgress, type HubSettings } from '../../src/hub/index.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { startMockHub, type MockHub } from '../support/mock-hub.ts';
import { rejectsWith, tempDir } from './helpers.ts';

const SENTIMENT = 'hubserve-test/tiny-sentiment';
const T5 = 'hubserve-test/tiny-t5-translate';
const GATED = 'hubserve-test/gated-sentiment';
const NO_ONNX = 'hubserve-test/no-onnx';
const TOKEN = 'hf_hubserve_test_token';
const SENTIMENT_Q8 = ['config.json', 'onnx/model_quantized.onnx', 'tokenizer.json', 'tokenizer_config.json'];

mock.method(console, 'debug', () => undefined); // @huggingface/hub logs each download

/** A copy of a test model without some of its files. */
function fixture(from: string, leaveOut: string[]): string {
  const dir = tempDir('hubserve-fixture-');
  cpSync(from, dir, { recursive: true });
  for (const file of leaveOut) rmSync(join(dir, file), { recursive: true });
  return dir;
}

async function startHub(): Promise<MockHub> {
  const sentiment = testModelPath(SENTIMENT);
  const hub = await startMockHub({
    repos: {
      [SENTIMENT]: {
        dir: sentiment,
        revisions: { v1: fixture(sentiment, ['onnx/model_quantized.onnx']), 'refs/pr/1': testModelPath(T5) },
      },
      [T5]: { dir: testModelPath(T5) },
      [GATED]: { dir: sentiment, gated: true },
      [NO_ONNX]: { dir: fixture(sentiment, ['onnx']) },
    },
    token: TOKEN,
  });
  return hub;
}

const settingsFor = (hub: MockHub, extra: Partial<HubSettings> = {}): HubSettings => ({
  endpoint: hub.url,
  cacheDir: tempDir('hubserve-cache-'),
  convertedDir: tempDir('hubserve-converted-'),
  offline: false,
  ...extra,
});

/** Files whose bytes were downloaded (not size probes), e.g. `onnx/model.onnx`. */
const fileGets = (hub: MockHub): string[] =>
  hub.requests
    .filter((r) => r.method === 'GET' && r.range === undefined && r.path.includes('/resolve/'))
    .map((r) => decodeURIComponent(r.path.replace(/^.*?\/resolve\/[^/]+\//, '')))
    .sort();

describe('resolveModel from the Hub', () => {
  let hub: MockHub;
  before(async () => {
    hub = await startHub();
  });
  after(() => hub.close());

  it('downloads only the files of the dtype into the standard cache, ready for transformers.js', async () => {
    const settings = settingsFor(hub);
    const events: DownloadProgress[] = [];
    hub.requests.length = 0;
    const model = await resolveModel(SENTIMENT, { dtype: 'q8', settings, onProgress: (e) => events.push(e) });

    const commit = hub.sha(SENTIMENT);
    const repoDir = join(settings.cacheDir, 'models--hubserve-test--tiny-sentiment');
    assert.deepEqual(model, {
      source: SENTIMENT,
      kind: 'hub',
      path: join(repoDir, 'snapshots', commit),
      repo: SENTIMENT,
      revision: 'main',
      commit,
      files: SENTIMENT_Q8,
      weights: 'onnx',
    });
    assert.deepEqual(fileGets(hub), SENTIMENT_Q8);
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), commit);
    const link = join(model.path, 'onnx', 'model_quantized.onnx');
    assert.ok(lstatSync(link).isSymbolicLink(), 'snapshot files link to blobs');
    assert.match(readlinkSync(link), /^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);

    const onnxSize = lstatSync(join(testModelPath(SENTIMENT), 'onnx', 'model_quantized.onnx')).size;
    const onnxEvents = events.filter((e) => e.file === 'onnx/model_quantized.onnx');
    assert.deepEqual(onnxEvents.at(0), {
      type: 'start',
      repo: SENTIMENT,
      file: 'onnx/model_quantized.onnx',
      total: onnxSize,
    });
    assert.deepEqual(onnxEvents.filter((e) => e.type === 'bytes').at(-1), {
      type: 'bytes',
      repo: SENTIMENT,
      file: 'onnx/model_quantized.onnx',
      done: onnxSize,
      total: onnxSize,
    });
    assert.equal(onnxEvents.at(-1)?.type, 'done');
    assert.deepEqual(
      events
        .filter((e) => e.type === 'done')
        .map((e) => e.file)
        .sort(),
      SENTIMENT_Q8,
    );

    env.allowRemoteModels = false;
    const classify = await pipeline('text-classification', model.path, { dtype: 'q8' });
    const [result] = await classify('I love this wonderful film');
    assert.equal(result?.label, 'POSITIVE');

    // Again: all from the cache, only the revision is asked for.
    hub.requests.length = 0;
    events.length = 0;
    assert.deepEqual(
      await resolveModel(SENTIMENT, { dtype: 'q8', settings, onProgress: (e) => events.push(e) }),
      model,
    );
    assert.deepEqual(fileGets(hub), []);
    assert.deepEqual(
      hub.requests.filter((r) => r.method !== 'GET' || !r.path.startsWith('/api/')),
      [],
    );
    assert.deepEqual(events, []);
  });

  it('downloads the encoder and the merged decoder of a seq2seq model', async () => {
    hub.requests.length = 0;
    const model = await resolveModel(T5, { dtype: 'fp32', settings: settingsFor(hub) });
    const files = [
      'config.json',
      'generation_config.json',
      'onnx/decoder_model_merged.onnx',
      'onnx/encoder_model.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ];
    assert.deepEqual(model.files, files);
    assert.deepEqual(fileGets(hub), files);
  });

  it('serves named revisions, and records them in refs/ as huggingface_hub does', async () => {
    const settings = settingsFor(hub);
    const model = await resolveModel(`${SENTIMENT}@v1`, { dtype: 'fp32', settings });
    assert.equal(model.commit, hub.sha(SENTIMENT, 'v1'));
    assert.notEqual(model.commit, hub.sha(SENTIMENT));
    const refs = join(settings.cacheDir, 'models--hubserve-test--tiny-sentiment', 'refs');
    assert.equal(readFileSync(join(refs, 'v1'), 'utf8'), model.commit);
    const pr = await resolveModel(`${SENTIMENT}@refs/pr/1`, { dtype: 'fp32', settings });
    assert.equal(pr.commit, hub.sha(SENTIMENT, 'refs/pr/1'));
    assert.equal(readFileSync(join(refs, 'refs', 'pr', '1'), 'utf8'), pr.commit);
  });

  it('says when the repo or the revision does not exist', async () => {
    const settings = settingsFor(hub);
    const missing = await rejectsWith(
      resolveModel('hubserve-test/nope', { dtype: 'fp32', settings }),
      'repo_not_found',
      /model hubserve-test\/nope was not found on http:\/\/127\.0\.0\.1:\d+/,
      /check the id/,
      /set HF_TOKEN/,
    );
    assert.equal(missing.details['repo'], 'hubserve-test/nope');
    const revision = await rejectsWith(
      resolveModel(`${SENTIMENT}@nope`, { dtype: 'fp32', settings }),
      'revision_not_found',
      /hubserve-test\/tiny-sentiment has no revision "nope"/,
      /existing branch, tag or commit/,
    );
    assert.equal(revision.details['revision'], 'nope');
  });

  it('needs a token with access for a gated repo', async () => {
    await rejectsWith(
      resolveModel(GATED, { dtype: 'q8', settings: settingsFor(hub) }),
      'gated_repo',
      /gated model: accept its conditions at http:\/\/127\.0\.0\.1:\d+\/hubserve-test\/gated-sentiment/,
      /set HF_TOKEN/,
    );
    await rejectsWith(
      resolveModel(GATED, { dtype: 'q8', settings: settingsFor(hub, { token: 'hf_not_the_one' }) }),
      'gated_repo',
      /the HF_TOKEN given belongs to an account with access/,
    );
    const model = await resolveModel(GATED, { dtype: 'q8', settings: settingsFor(hub, { token: TOKEN }) });
    assert.deepEqual(model.files, SENTIMENT_Q8);
    await rejectsWith(
      resolveModel(GATED, { dtype: 'q8', settings: settingsFor(hub, { token: 'not-a-token' }) }),
      'invalid_config',
      /HF_TOKEN is not a Hugging Face access token/,
    );
  });

  it('refuses repos without ONNX weights, or without the dtype asked for', async () => {
    const settings = settingsFor(hub);
    hub.requests.length = 0;
    await rejectsWith(
      resolveModel(NO_ONNX, { dtype: 'fp32', settings }),
      'no_onnx_weights',
      /hubserve-test\/no-onnx@main has no ONNX weights/,
      /onnx-community\/ or Xenova\//,
      /optimum-cli export onnx/,
    );
    assert.deepEqual(fileGets(hub), ['config.json']);
    const error = await rejectsWith(
      resolveModel(SENTIMENT, { dtype: 'q4', settings }),
      'no_onnx_weights',
      /no ONNX weights for dtype q4 \(onnx\/model_q4\.onnx\); available dtypes: fp32, q8/,
    );
    assert.deepEqual(error.details['availableDtypes'], ['fp32', 'q8']);
    await rejectsWith(
      resolveModel(`${SENTIMENT}@v1`, { dtype: 'q8', settings }),
      'no_onnx_weights',
      /available dtypes: fp32;/,
    );
    await rejectsWith(
      resolveModel(SENTIMENT, { dtype: 'int3', settings }),
      'invalid_config',
      /unknown dtype "int3": use one of fp32, fp16, q8/,
    );
  });

  it('pulls several models', async () => {
    const settings = settingsFor(hub);
    const models = await pullModels([SENTIMENT, `${T5}@main`], { dtype: 'fp32', settings });
    assert.deepEqual(
      models.map((m) => [m.repo, m.commit]),
      [
        [SENTIMENT, hub.sha(SENTIMENT)],
        [T5, hub.sha(T5)],
      ],
    );
  });
});

describe('resolveModel without the Hub', () => {
  let settings: HubSettings;
  let commit: string;
  before(async () => {
    const hub = await startHub();
    settings = settingsFor(hub);
    commit = hub.sha(SENTIMENT);
    await resolveModel(SENTIMENT, { dtype: 'q8', settings });
    await hub.close(); // from here on, the endpoint refuses connections
  });

  it('works offline from the cache, by revision or commit', async () => {
    const offline = { ...settings, offline: true };
    const model = await resolveModel(SENTIMENT, { dtype: 'q8', settings: offline });
    assert.equal(model.commit, commit);
    assert.deepEqual(model.files, SENTIMENT_Q8);
    assert.equal(
      (await resolveModel(`${SENTIMENT}@${commit}`, { dtype: 'q8', settings: offline })).path,
      model.path,
    );
  });

  it('says what to do offline when the model is not cached', async () => {
    const offline = { ...settings, offline: true };
    await rejectsWith(
      resolveModel(T5, { dtype: 'fp32', settings: offline }),
      'not_cached',
      /hubserve-test\/tiny-t5-translate@main is not in the cache/,
      /run `hubserve pull hubserve-test\/tiny-t5-translate` while online/,
      /unset HF_HUB_OFFLINE/,
    );
    const partly = await rejectsWith(
      resolveModel(SENTIMENT, { dtype: 'fp32', settings: offline }),
      'not_cached',
      /only partly in the cache .* \(missing onnx\/model\.onnx\)/,
    );
    assert.deepEqual(partly.details['missing'], ['onnx/model.onnx']);
  });

  it('uses the cache when the Hub is unreachable', async () => {
    const model = await resolveModel(SENTIMENT, { dtype: 'q8', settings });
    assert.equal(model.commit, commit);
  });

  it('says the Hub is unreachable when the model is not cached', async () => {
    const error = await rejectsWith(
      resolveModel(T5, { dtype: 'fp32', settings }),
      'hub_unreachable',
      /cannot reach http:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED/,
      /not in the cache/,
      /hubserve pull hubserve-test\/tiny-t5-translate/,
    );
    assert.equal(error.details['cacheDir'], settings.cacheDir);
  });
});

describe('resolveModel of a local folder', () => {
  const settings: HubSettings = {
    endpoint: 'http://127.0.0.1:9',
    cacheDir: '/nonexistent',
    convertedDir: tempDir('hubserve-converted-'),
    offline: false,
  };

  it('loads it in place', async () => {
    const path = testModelPath(SENTIMENT);
    assert.deepEqual(await resolveModel(path, { dtype: 'q8', settings }), {
      source: path,
      kind: 'local',
      path,
      files: SENTIMENT_Q8,
      weights: 'onnx',
    });
  });

  it('says what is wrong with the folder', async () => {
    const empty = tempDir();
    mkdirSync(join(empty, 'onnx'));
    writeFileSync(join(empty, 'onnx', 'model.onnx'), '');
    await rejectsWith(
      resolveModel(join(empty, 'missing'), { dtype: 'q8', settings }),
      'invalid_config',
      /model folder .*missing does not exist or is empty/,
    );
    await rejectsWith(
      resolveModel(empty, { dtype: 'q8', settings }),
      'invalid_config',
      /has no config\.json: give a folder laid out as a Hub repo/,
    );
    await rejectsWith(
      resolveModel(testModelPath(SENTIMENT), { dtype: 'q4', settings }),
      'no_onnx_weights',
      /available dtypes: fp32, q8/,
    );
    await rejectsWith(
      resolveModel(testModelPath(SENTIMENT), { dtype: 'q8', settings, localRoots: [] }),
      'local_path_not_allowed',
      /local folders are not allowed here; or give a Hub model id/,
    );
  });

  it('takes local folders only inside the allowed roots, whatever .. or links say', async () => {
    const model = testModelPath(SENTIMENT);
    const root = dirname(model);
    const resolved = await resolveModel(model, { dtype: 'fp32', settings, localRoots: [root] });
    assert.equal(resolved.path, model);
    const outside = tempDir();
    const link = join(root, `escape-${process.pid}`);
    symlinkSync(outside, link);
    after(() => rmSync(link, { force: true }));
    cpSync(model, join(outside, 'copy'), { recursive: true });
    for (const source of [
      `${root}/../${basename(root)}-not/x`,
      `${root}/../../`,
      join(link, 'copy'),
      '/etc',
    ]) {
      await rejectsWith(
        resolveModel(source, { dtype: 'fp32', settings, localRoots: [root] }),
        'local_path_not_allowed',
        /local folders must be inside/,
      );
    }
  });
});
