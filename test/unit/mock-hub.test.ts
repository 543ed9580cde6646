import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';

import {
  downloadFile,
  downloadFileToCacheDir,
  fileDownloadInfo,
  HubApiError,
  listFiles,
  modelInfo,
  snapshotDownload,
} from '@huggingface/hub';
import type { ListFileEntry } from '@huggingface/hub';

import { startMockHub } from '../support/mock-hub.ts';
import type { MockHub, MockHubRequest } from '../support/mock-hub.ts';

const REPO = 'hubserve-test/tiny-sentiment';
const GATED = 'hubserve-test/gated-model';
const TOKEN = 'hf_mockhubtesttoken';
const FOLDER = 'models--hubserve-test--tiny-sentiment';

type Fixture = Record<string, Buffer>;

const tokenizer = Buffer.from(
  JSON.stringify({ version: '1.0', model: { type: 'WordPiece', vocab: { a: 0 } } }),
);
const readme = Buffer.from('---\npipeline_tag: text-classification\nlicense: apache-2.0\n---\n# tiny\n');
const mainFiles: Fixture = {
  'config.json': Buffer.from(
    JSON.stringify({ architectures: ['BertForSequenceClassification'], model_type: 'bert' }),
  ),
  'tokenizer.json': tokenizer,
  'README.md': readme,
  'onnx/model.onnx': randomBytes(8192),
};
const v1Files: Fixture = {
  'config.json': Buffer.from(
    JSON.stringify({ architectures: ['BertForSequenceClassification'], model_type: 'v1' }),
  ),
  'tokenizer.json': tokenizer,
  'README.md': readme,
  'onnx/model.onnx': randomBytes(4096),
};
const gatedFiles: Fixture = {
  'config.json': Buffer.from('{"model_type":"bert"}'),
  'onnx/model.onnx': randomBytes(1024),
};

function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** The cache blob name of a file: sha256 for LFS files (.onnx), git blob sha1 otherwise. */
function blobName(filePath: string, content: Buffer): string {
  return filePath.endsWith('.onnx') ? sha256(content) : gitBlobOid(content);
}

async function writeFixture(root: string, files: Fixture): Promise<string> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, ...rel.split('/'));
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, content);
  }
  return root;
}

/** Full (non-Range) GETs of resolve/ URLs, i.e. file content downloads, as `<path in repo>`. */
function contentDownloads(requests: MockHubRequest[], repo = REPO): string[] {
  const prefix = `/${repo}/resolve/`;
  return requests
    .filter((r) => r.method === 'GET' && r.path.startsWith(prefix) && r.range === undefined)
    .map((r) => r.path.slice(prefix.length).split('/').slice(1).join('/'))
    .sort();
}

async function assertHubError(promise: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof HubApiError, `expected HubApiError, got ${String(err)}`);
    assert.equal(err.statusCode, status);
    assert.match(err.message, message);
    return true;
  });
}

describe('mock Hub with the real @huggingface/hub client', () => {
  let tmp: string;
  let hub: MockHub;
  let hubUrl: string;
  let n = 0;
  const newCacheDir = (): Promise<string> => mkdtemp(path.join(tmp, `cache-${n++}-`));

  before(async () => {
    // downloadFileToCacheDir logs each download with console.debug.
    mock.method(console, 'debug', () => undefined);
    tmp = await mkdtemp(path.join(tmpdir(), 'hubserve-mock-hub-'));
    hub = await startMockHub({
      repos: {
        [REPO]: {
          dir: await writeFixture(path.join(tmp, 'main'), mainFiles),
          revisions: { v1: await writeFixture(path.join(tmp, 'v1'), v1Files) },
        },
        [GATED]: { dir: await writeFixture(path.join(tmp, 'gated'), gatedFiles), gated: true },
      },
      token: TOKEN,
    });
    hubUrl = hub.url;
  });

  after(async () => {
    await hub.close();
    await rm(tmp, { recursive: true, force: true });
    mock.restoreAll();
  });

  it('listens on loopback and gives each revision a deterministic 40-hex sha', async () => {
    assert.match(hubUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(hub.sha(REPO), /^[0-9a-f]{40}$/);
    assert.notEqual(hub.sha(REPO, 'v1'), hub.sha(REPO));
    assert.equal(hub.sha(REPO, hub.sha(REPO, 'v1')), hub.sha(REPO, 'v1'));
    // Same contents in another folder and server => same sha.
    const again = await startMockHub({
      repos: { [REPO]: { dir: await writeFixture(path.join(tmp, 'copy'), mainFiles) } },
    });
    try {
      assert.equal(again.sha(REPO), hub.sha(REPO));
    } finally {
      await again.close();
    }
  });

  it('snapshotDownload fills an empty cache with the standard HF layout', async () => {
    const cacheDir = await newCacheDir();
    hub.requests.length = 0;
    const sha = hub.sha(REPO);
    const snapshot = await snapshotDownload({ repo: REPO, hubUrl, cacheDir });

    const storage = path.join(cacheDir, FOLDER);
    assert.equal(snapshot, path.join(storage, 'snapshots', sha));
    assert.equal(await readFile(path.join(storage, 'refs', 'main'), 'utf8'), sha);
    for (const [rel, content] of Object.entries(mainFiles)) {
      const file = path.join(snapshot, ...rel.split('/'));
      assert.ok((await lstat(file)).isSymbolicLink(), `${rel} is a symlink into blobs/`);
      assert.ok(!path.isAbsolute(await readlink(file)), `${rel} links with a relative path`);
      assert.equal(await realpath(file), await realpath(path.join(storage, 'blobs', blobName(rel, content))));
      assert.deepEqual(await readFile(file), content, `${rel} has the fixture's bytes`);
    }
    assert.deepEqual(
      (await readdir(path.join(storage, 'blobs'))).sort(),
      Object.entries(mainFiles)
        .map(([rel, content]) => blobName(rel, content))
        .sort(),
    );

    // What the client asked for: model info (sha), the recursive tree at the sha, then per file
    // paths-info, a `Range: bytes=0-0` probe and a full GET of resolve/<sha>/<path>.
    const calls = hub.requests.map((r) => `${r.method} ${r.path}`);
    assert.equal(calls[0], `GET /api/models/${REPO}/revision/main`);
    assert.match(hub.requests[0]?.url ?? '', /[?&]expand=sha(&|$)/);
    assert.equal(calls[1], `GET /api/models/${REPO}/tree/${sha}`);
    assert.match(hub.requests[1]?.url ?? '', /recursive=true/);
    const files = Object.keys(mainFiles).sort();
    assert.deepEqual(contentDownloads(hub.requests), files);
    const probes = hub.requests.filter((r) => r.range === 'bytes=0-0').map((r) => r.path);
    assert.deepEqual(probes.sort(), files.map((f) => `/${REPO}/resolve/${sha}/${f}`).sort());
    const pathsInfo = hub.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(
      pathsInfo.map((r) => r.path),
      files.map(() => `/api/models/${REPO}/paths-info/${sha}`),
    );
    assert.equal(hub.requests.length, 2 + 3 * files.length);
  });

  it('a second snapshotDownload re-fetches only model info and the tree, no file contents', async () => {
    const cacheDir = await newCacheDir();
    const first = await snapshotDownload({ repo: REPO, hubUrl, cacheDir });
    hub.requests.length = 0;
    const second = await snapshotDownload({ repo: REPO, hubUrl, cacheDir });

    assert.equal(second, first);
    assert.deepEqual(
      hub.requests.map((r) => `${r.method} ${r.path}`),
      [`GET /api/models/${REPO}/revision/main`, `GET /api/models/${REPO}/tree/${hub.sha(REPO)}`],
    );
  });

  it('downloads revision v1 by name and by sha, sharing unchanged blobs with main', async () => {
    const cacheDir = await newCacheDir();
    await snapshotDownload({ repo: REPO, hubUrl, cacheDir });
    hub.requests.length = 0;
    const v1Sha = hub.sha(REPO, 'v1');
    const snapshot = await snapshotDownload({ repo: REPO, hubUrl, cacheDir, revision: 'v1' });

    const storage = path.join(cacheDir, FOLDER);
    assert.equal(snapshot, path.join(storage, 'snapshots', v1Sha));
    assert.equal(await readFile(path.join(storage, 'refs', 'v1'), 'utf8'), v1Sha);
    assert.equal(await readFile(path.join(storage, 'refs', 'main'), 'utf8'), hub.sha(REPO));
    for (const [rel, content] of Object.entries(v1Files)) {
      assert.deepEqual(await readFile(path.join(snapshot, ...rel.split('/'))), content, rel);
    }
    // Identical files (same blob name) are linked from blobs/, not downloaded again.
    assert.deepEqual(contentDownloads(hub.requests), ['config.json', 'onnx/model.onnx']);
    assert.equal(hub.requests[0]?.path, `/api/models/${REPO}/revision/v1`);

    // By commit sha, into a fresh cache: same files, and no refs/<sha> file.
    const shaCache = await newCacheDir();
    const bySha = await snapshotDownload({ repo: REPO, hubUrl, cacheDir: shaCache, revision: v1Sha });
    assert.equal(bySha, path.join(shaCache, FOLDER, 'snapshots', v1Sha));
    assert.deepEqual(await readFile(path.join(bySha, 'config.json')), v1Files['config.json']);
    assert.deepEqual(await readdir(path.join(shaCache, FOLDER, 'refs')).catch(() => []), []);
  });

  it('an unknown revision fails with 404 "Revision not found"', async () => {
    const cacheDir = await newCacheDir();
    await assertHubError(
      snapshotDownload({ repo: REPO, hubUrl, cacheDir, revision: 'v9' }),
      404,
      /^Revision not found: v9\. URL: http:\/\/127\.0\.0\.1:\d+\/api\/models\//,
    );
    const res = await fetch(`${hubUrl}/${REPO}/resolve/v9/config.json`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-error-code'), 'RevisionNotFound');
    assert.deepEqual(await res.json(), { error: 'Revision not found: v9' });
  });

  it('an unknown repo fails with 404 "Repository not found"', async () => {
    const cacheDir = await newCacheDir();
    await assertHubError(
      snapshotDownload({ repo: 'hubserve-test/nope', hubUrl, cacheDir }),
      404,
      /^Repository not found\. URL: /,
    );
    await assertHubError(modelInfo({ name: 'nope', hubUrl }), 404, /^Repository not found/);
    const res = await fetch(`${hubUrl}/hubserve-test/nope/resolve/main/config.json`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-error-code'), 'RepoNotFound');
    assert.deepEqual(await res.json(), { error: 'Repository not found' });
  });

  it('a gated repo needs the token for files: 401 without or with a wrong one, success with it', async () => {
    await assertHubError(
      snapshotDownload({ repo: GATED, hubUrl, cacheDir: await newCacheDir() }),
      401,
      /^Access to model hubserve-test\/gated-model is restricted\. You must have access/,
    );
    await assertHubError(
      snapshotDownload({ repo: GATED, hubUrl, cacheDir: await newCacheDir(), accessToken: 'hf_wrong' }),
      401,
      /is restricted: invalid credentials/,
    );
    const res = await fetch(`${hubUrl}/${GATED}/resolve/main/config.json`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('x-error-code'), 'GatedRepo');

    hub.requests.length = 0;
    const cacheDir = await newCacheDir();
    const snapshot = await snapshotDownload({ repo: GATED, hubUrl, cacheDir, accessToken: TOKEN });
    for (const [rel, content] of Object.entries(gatedFiles)) {
      assert.deepEqual(await readFile(path.join(snapshot, ...rel.split('/'))), content, rel);
    }
    assert.ok(hub.requests.length > 0);
    for (const r of hub.requests) assert.equal(r.authorization, `Bearer ${TOKEN}`, `${r.method} ${r.url}`);
    const info = await modelInfo({ name: GATED, hubUrl });
    assert.equal(info.gated, 'manual');
  });

  it('a missing file: downloadFileToCacheDir throws, downloadFile and fileDownloadInfo give null', async () => {
    const cacheDir = await newCacheDir();
    hub.requests.length = 0;
    // paths-info leaves unknown paths out of its answer, so the client fails before any download.
    await assert.rejects(
      downloadFileToCacheDir({ repo: REPO, path: 'missing.txt', hubUrl, cacheDir }),
      (err: unknown) => {
        assert.ok(err instanceof Error && !(err instanceof HubApiError));
        assert.equal(err.message, 'cannot get path info for missing.txt');
        return true;
      },
    );
    assert.deepEqual(
      hub.requests.map((r) => `${r.method} ${r.path}`),
      [`POST /api/models/${REPO}/paths-info/main`],
    );

    assert.equal(await downloadFile({ repo: REPO, path: 'missing.txt', hubUrl }), null);
    assert.equal(await fileDownloadInfo({ repo: REPO, path: 'onnx/missing.onnx', hubUrl }), null);
    const res = await fetch(`${hubUrl}/${REPO}/resolve/main/missing.txt`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-error-code'), 'EntryNotFound');
    assert.deepEqual(await res.json(), { error: 'Entry not found' });
  });

  it('downloadFileToCacheDir at a branch links the file under the commit sha', async () => {
    const cacheDir = await newCacheDir();
    const file = await downloadFileToCacheDir({ repo: REPO, path: 'onnx/model.onnx', hubUrl, cacheDir });
    assert.equal(file, path.join(cacheDir, FOLDER, 'snapshots', hub.sha(REPO), 'onnx', 'model.onnx'));
    assert.deepEqual(await readFile(file), mainFiles['onnx/model.onnx']);
  });

  it('fileDownloadInfo, modelInfo and listFiles see Hub-like metadata', async () => {
    const onnx = mainFiles['onnx/model.onnx'] ?? Buffer.alloc(0);
    const lfsInfo = await fileDownloadInfo({ repo: REPO, path: 'onnx/model.onnx', hubUrl });
    assert.equal(lfsInfo?.etag, `"${sha256(onnx)}"`);
    assert.equal(lfsInfo?.size, onnx.length);
    assert.equal(lfsInfo?.url, `${hubUrl}/${REPO}/resolve/main/onnx/model.onnx`);
    const textInfo = await fileDownloadInfo({ repo: REPO, path: 'config.json', hubUrl, revision: 'v1' });
    assert.equal(textInfo?.etag, `"${gitBlobOid(v1Files['config.json'] ?? Buffer.alloc(0))}"`);

    const info = await modelInfo({ name: REPO, hubUrl, additionalFields: ['sha', 'filePaths', 'config'] });
    assert.equal(info.name, REPO);
    assert.match(info.id, /^[0-9a-f]{24}$/);
    assert.equal(info.sha, hub.sha(REPO));
    assert.equal(info.task, 'text-classification');
    assert.equal(info.gated, false);
    assert.equal(info.private, false);
    assert.deepEqual([...info.filePaths].sort(), Object.keys(mainFiles).sort());
    assert.deepEqual(info.config, { architectures: ['BertForSequenceClassification'], model_type: 'bert' });
    const full = (await (await fetch(`${hubUrl}/api/models/${REPO}`)).json()) as Record<string, unknown>;
    assert.equal(full['sha'], hub.sha(REPO));
    assert.deepEqual(full['tags'], ['onnx', 'text-classification']);
    const expanded = (await (await fetch(`${hubUrl}/api/models/${REPO}?expand=sha`)).json()) as object;
    assert.deepEqual(Object.keys(expanded).sort(), ['_id', 'id', 'sha']);

    const collect = async (params: { recursive?: boolean; path?: string; revision?: string }) => {
      const out: ListFileEntry[] = [];
      for await (const e of listFiles({ repo: REPO, hubUrl, ...params })) out.push(e);
      return out;
    };
    const top = await collect({});
    assert.deepEqual(top.map((e) => `${e.type} ${e.path}`).sort(), [
      'directory onnx',
      'file README.md',
      'file config.json',
      'file tokenizer.json',
    ]);
    const all = await collect({ recursive: true, revision: 'v1' });
    const model = all.find((e) => e.path === 'onnx/model.onnx');
    const v1Onnx = v1Files['onnx/model.onnx'] ?? Buffer.alloc(0);
    assert.equal(model?.size, v1Onnx.length);
    assert.equal(model?.lfs?.oid, sha256(v1Onnx));
    assert.equal(model?.lfs?.size, v1Onnx.length);
    assert.ok((model?.lfs?.pointerSize ?? 0) > 100);
    const cfg = all.find((e) => e.path === 'config.json');
    assert.equal(cfg?.lfs, undefined);
    assert.equal(cfg?.oid, gitBlobOid(v1Files['config.json'] ?? Buffer.alloc(0)));
    assert.deepEqual(
      (await collect({ path: 'onnx' })).map((e) => e.path),
      ['onnx/model.onnx'],
    );
  });

  it('listFiles follows the tree pagination Link header', async () => {
    const paged = await startMockHub({ repos: { [REPO]: { dir: path.join(tmp, 'main') } }, treePageSize: 2 });
    try {
      const paths: string[] = [];
      for await (const e of listFiles({ repo: REPO, hubUrl: paged.url, recursive: true })) paths.push(e.path);
      assert.deepEqual(paths.sort(), [
        'README.md',
        'config.json',
        'onnx',
        'onnx/model.onnx',
        'tokenizer.json',
      ]);
      const pages = paged.requests.filter((r) => r.path.startsWith(`/api/models/${REPO}/tree/`));
      assert.equal(pages.length, 3);
      assert.match(pages[1]?.url ?? '', /[?&]cursor=/);
    } finally {
      await paged.close();
    }
  });

  it('resolve serves HEAD, Range (206/416) and raw LFS pointers with Hub headers', async () => {
    const onnx = mainFiles['onnx/model.onnx'] ?? Buffer.alloc(0);
    const url = `${hubUrl}/${REPO}/resolve/main/onnx/model.onnx`;
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(onnx.length));
    assert.equal(head.headers.get('etag'), `"${sha256(onnx)}"`);
    assert.equal(head.headers.get('x-linked-etag'), `"${sha256(onnx)}"`);
    assert.equal(head.headers.get('x-linked-size'), String(onnx.length));
    assert.equal(head.headers.get('x-repo-commit'), hub.sha(REPO));
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    const part = await fetch(url, { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-19/${onnx.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), onnx.subarray(10, 20));
    const suffix = await fetch(url, { headers: { Range: 'bytes=-5' } });
    assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), onnx.subarray(onnx.length - 5));
    const beyond = await fetch(url, { headers: { Range: `bytes=${onnx.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${onnx.length}`);
    assert.deepEqual(await beyond.json(), { error: 'Requested Range Not Satisfiable' });

    const config = await fetch(`${hubUrl}/${REPO}/resolve/${hub.sha(REPO)}/config.json`);
    assert.equal(config.headers.get('etag'), `"${gitBlobOid(mainFiles['config.json'] ?? Buffer.alloc(0))}"`);
    assert.equal(config.headers.get('x-linked-etag'), null);
    assert.deepEqual(Buffer.from(await config.arrayBuffer()), mainFiles['config.json']);

    const raw = await (await fetch(`${hubUrl}/${REPO}/raw/main/onnx/model.onnx`)).text();
    assert.equal(
      raw,
      `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(onnx)}\nsize ${onnx.length}\n`,
    );
  });
});
