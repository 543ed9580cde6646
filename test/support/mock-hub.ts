/**
 * A local mock of the Hugging Face Hub's file API, served over loopback, for tests.
 *
 * It is faithful enough that the real `@huggingface/hub` client (`snapshotDownload`,
 * `downloadFileToCacheDir`, `downloadFile`, `fileDownloadInfo`, `listFiles`, `modelInfo`, `pathsInfo`)
 * works against it when given `hubUrl: mock.url`, and that HF_ENDPOINT-style clients
 * (`{url}/{repo}/resolve/{revision}/{path}`, e.g. transformers.js with `env.remoteHost`) can fetch files.
 *
 * Endpoints (model repos only):
 * - `GET /api/models/{repo}` and `GET /api/models/{repo}/revision/{rev}` (`rev` may be `HEAD`), with `expand`
 * - `GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=&expand=&cursor=` (paginated with a `Link` header)
 * - `POST /api/models/{repo}/paths-info/{rev}` (JSON or form body: `paths`, `expand`)
 * - `GET|HEAD /{repo}/resolve/{rev}/{path}` (file bytes, `Range` support) and `/{repo}/raw/{rev}/{path}`
 *   (like resolve, but LFS files give their pointer file)
 *
 * Repository contents are read (and hashed) once, when the mock starts; later changes to the fixture
 * folders are not seen, except that file bytes are streamed from disk on each download.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

export interface RepoSpec {
  /** Local folder whose files (recursively) are the repo's files at revision `main`. */
  dir: string;
  /**
   * Gated repo: file downloads (`resolve`/`raw`) need `Authorization: Bearer <token>` with the mock's
   * `token`. Metadata endpoints (model info, tree, paths-info) stay public, as on the Hub. `true` = `'manual'`.
   */
  gated?: boolean | 'auto' | 'manual';
  /** Extra revisions (branch or tag names, e.g. `v1`) mapped to other local folders. */
  revisions?: Record<string, string>;
  /**
   * `pipeline_tag` of the model info. Default: `pipeline_tag` from the README.md front matter,
   * else from config.json, else none.
   */
  pipelineTag?: string;
  /** `tags` of the model info. Default: `onnx` when the repo has `.onnx` files, plus the pipeline tag. */
  tags?: string[];
}

export interface MockHubOptions {
  /** Repos by id, e.g. `hubserve-test/tiny-sentiment`. */
  repos: Record<string, RepoSpec>;
  /** The valid access token for gated repos. Clients of `@huggingface/hub` require it to start with `hf_`. */
  token?: string;
  /** Entries per page of the tree endpoint before a `Link: <...>; rel="next"` header is sent. Default 1000. */
  treePageSize?: number;
}

export interface MockHubRequest {
  method: string;
  /** Path of the request URL, without the query string, as sent (percent-encoded). */
  path: string;
  /** Path and query string, as sent. */
  url: string;
  authorization?: string;
  /** The `Range` request header, if any. */
  range?: string;
}

export interface MockHub {
  /** Base URL, `http://127.0.0.1:<port>` (no trailing slash): use as `hubUrl` or HF_ENDPOINT. */
  url: string;
  /** Every request received, in order. Clear it with `requests.length = 0`. */
  requests: MockHubRequest[];
  /** The commit sha of a repo's revision (name or sha; default `main`). Throws for unknown ones. */
  sha(repo: string, revision?: string): string;
  close(): Promise<void>;
}

/** File name patterns stored with Git LFS, from the Hub's default `.gitattributes`. */
const LFS_PATTERNS: RegExp[] = [
  /\.(7z|arrow|bin|bz2|ckpt|ftz|gz|h5|joblib|mlmodel|model|msgpack|npy|npz|onnx|onnx_data|ot|parquet|pb|pickle|pkl|pt|pth|rar|safetensors|tar|tflite|tgz|wasm|xz|zip|zst)$/,
  /tfevents/,
];
/** Files at least this big are stored with Git LFS whatever their name (the Hub rejects bigger regular files). */
const LFS_MIN_SIZE = 10 * 1024 * 1024;
const LAST_MODIFIED = '2024-01-01T00:00:00.000Z';
const DEFAULT_BRANCH = 'main';
const SHA_RE = /^[0-9a-f]{40}$/;

interface FileEntry {
  path: string;
  absPath: string;
  size: number;
  /** Git blob sha1 (of the pointer file for LFS files). */
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number; pointer: string };
}

interface DirEntry {
  path: string;
  oid: string;
}

interface Revision {
  name: string;
  sha: string;
  files: Map<string, FileEntry>;
  dirs: Map<string, DirEntry>;
  /** Files and directories, sorted by path. */
  entries: Array<FileEntry | DirEntry>;
  pipelineTag?: string;
  tags: string[];
  config?: Record<string, unknown>;
}

interface Repo {
  id: string;
  gated: false | 'auto' | 'manual';
  byName: Map<string, Revision>;
  bySha: Map<string, Revision>;
}

type TreeEntryJson = {
  type: 'file' | 'directory';
  oid: string;
  size: number;
  lfs?: { oid: string; size: number; pointerSize: number };
  path: string;
  lastCommit?: { id: string; title: string; date: string };
  securityFileStatus?: { status: string };
};

function sha1(data: string | Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

function isLfs(filePath: string, size: number): boolean {
  return size >= LFS_MIN_SIZE || LFS_PATTERNS.some((re) => re.test(filePath));
}

async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(root, rel), { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name === '.git') continue;
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    const st = await stat(path.join(root, child));
    if (st.isDirectory()) out.push(...(await walk(root, child)));
    else if (st.isFile()) out.push(child);
  }
  return out;
}

function frontMatterValue(readme: string, key: string): string | undefined {
  const fm = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme);
  if (!fm?.[1]) return undefined;
  const line = new RegExp(`^${key}:\\s*['"]?([^'"\\s]+)['"]?\\s*$`, 'm').exec(fm[1]);
  return line?.[1];
}

async function loadRevision(name: string, dir: string, spec: RepoSpec): Promise<Revision> {
  const root = path.resolve(dir);
  const paths = (await walk(root)).sort();
  const files = new Map<string, FileEntry>();
  const dirs = new Map<string, DirEntry>();
  const commit = createHash('sha1');
  let readme: string | undefined;
  let configJson: Record<string, unknown> | undefined;
  for (const p of paths) {
    const absPath = path.join(root, ...p.split('/'));
    const content = await readFile(absPath);
    let entry: FileEntry;
    if (isLfs(p, content.length)) {
      const sha256 = createHash('sha256').update(content).digest('hex');
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${content.length}\n`;
      const pointerBuf = Buffer.from(pointer);
      entry = {
        path: p,
        absPath,
        size: content.length,
        oid: gitBlobOid(pointerBuf),
        lfs: { oid: sha256, size: content.length, pointerSize: pointerBuf.length, pointer },
      };
    } else {
      entry = { path: p, absPath, size: content.length, oid: gitBlobOid(content) };
    }
    files.set(p, entry);
    commit.update(`${p}\0${entry.oid}\n`);
    if (p === 'README.md') readme = content.toString('utf8');
    if (p === 'config.json') {
      try {
        const parsed: unknown = JSON.parse(content.toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
          configJson = parsed as Record<string, unknown>;
        }
      } catch {
        // not JSON: no config in the model info
      }
    }
    const segments = p.split('/');
    for (let i = 1; i < segments.length; i++) {
      const d = segments.slice(0, i).join('/');
      if (!dirs.has(d)) dirs.set(d, { path: d, oid: '' });
    }
  }
  for (const d of dirs.values()) {
    const children = [...files.values()].filter((f) => f.path.startsWith(`${d.path}/`));
    d.oid = sha1(`tree ${d.path}\0${children.map((f) => `${f.path}:${f.oid}`).join('\n')}`);
  }
  const entries: Array<FileEntry | DirEntry> = [...dirs.values(), ...files.values()].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );

  const configTag = configJson?.['pipeline_tag'];
  const pipelineTag =
    spec.pipelineTag ??
    (readme === undefined ? undefined : frontMatterValue(readme, 'pipeline_tag')) ??
    (typeof configTag === 'string' ? configTag : undefined);
  const tags = spec.tags ?? [
    ...(paths.some((p) => p.endsWith('.onnx')) ? ['onnx'] : []),
    ...(pipelineTag ? [pipelineTag] : []),
  ];
  let config: Record<string, unknown> | undefined;
  if (configJson) {
    config = {};
    for (const key of ['architectures', 'model_type']) {
      if (configJson[key] !== undefined) config[key] = configJson[key];
    }
  }
  return { name, sha: commit.digest('hex'), files, dirs, entries, pipelineTag, tags, config };
}

async function loadRepo(id: string, spec: RepoSpec): Promise<Repo> {
  const gated = spec.gated === true ? 'manual' : spec.gated || false;
  const repo: Repo = { id, gated, byName: new Map(), bySha: new Map() };
  const dirs: Array<[string, string]> = [[DEFAULT_BRANCH, spec.dir]];
  for (const [name, dir] of Object.entries(spec.revisions ?? {})) {
    if (name === DEFAULT_BRANCH || name === 'HEAD') {
      throw new Error(`mock hub: repo ${id}: revision "${name}" is reserved, use "dir" for the main branch`);
    }
    dirs.push([name, dir]);
  }
  for (const [name, dir] of dirs) {
    const rev = await loadRevision(name, dir, spec);
    repo.byName.set(name, rev);
    if (!repo.bySha.has(rev.sha)) repo.bySha.set(rev.sha, rev);
  }
  return repo;
}

function findRevision(repo: Repo, rev: string): Revision | undefined {
  const name = rev === 'HEAD' ? DEFAULT_BRANCH : rev;
  return repo.byName.get(name) ?? (SHA_RE.test(name) ? repo.bySha.get(name) : undefined);
}

function decodeSegments(raw: string): string | undefined {
  try {
    return raw
      .split('/')
      .map((s) => decodeURIComponent(s))
      .join('/');
  } catch {
    return undefined;
  }
}

function isTruthy(value: string | null | boolean | undefined): boolean {
  if (typeof value === 'boolean') return value;
  return value === 'true' || value === '1' || value === 'True';
}

function contentTypeOf(filePath: string): string {
  if (filePath.endsWith('.json')) return 'application/json; charset=utf-8';
  if (filePath.endsWith('.md')) return 'text/markdown; charset=utf-8';
  if (/\.(txt|py|yaml|yml|csv|jinja)$/.test(filePath) || filePath.endsWith('.gitattributes')) {
    return 'text/plain; charset=utf-8';
  }
  return 'application/octet-stream';
}

/** Parses a single-range `Range` header. `undefined` = serve the whole file (no, multiple or invalid ranges). */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: b === '' ? size - 1 : Math.min(Number(b), size - 1) };
}

function sendJson(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function sendError(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  code: string | undefined,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(
    req,
    res,
    status,
    { error: message },
    {
      ...(code ? { 'X-Error-Code': code } : {}),
      'X-Error-Message': message,
      ...headers,
    },
  );
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function mongoId(repoId: string): string {
  return sha1(`repo:${repoId}`).slice(0, 24);
}

/** Starts the mock Hub on 127.0.0.1 (random port). */
export async function startMockHub(options: MockHubOptions): Promise<MockHub> {
  const repos = new Map<string, Repo>();
  for (const [id, spec] of Object.entries(options.repos)) {
    repos.set(id, await loadRepo(id, spec));
  }
  const pageSize = Math.max(1, options.treePageSize ?? 1000);
  const requests: MockHubRequest[] = [];
  let baseUrl = '';

  const commitInfo = (rev: Revision) => ({ id: rev.sha, title: `Upload ${rev.name}`, date: LAST_MODIFIED });

  const treeEntry = (rev: Revision, entry: FileEntry | DirEntry, expand: boolean): TreeEntryJson => {
    const json: TreeEntryJson =
      'size' in entry
        ? {
            type: 'file',
            oid: entry.oid,
            size: entry.size,
            ...(entry.lfs
              ? { lfs: { oid: entry.lfs.oid, size: entry.lfs.size, pointerSize: entry.lfs.pointerSize } }
              : {}),
            path: entry.path,
          }
        : { type: 'directory', oid: entry.oid, size: 0, path: entry.path };
    if (expand) {
      json.lastCommit = commitInfo(rev);
      if (json.type === 'file') json.securityFileStatus = { status: 'safe' };
    }
    return json;
  };

  const modelInfoJson = (repo: Repo, rev: Revision, expand: string[]): Record<string, unknown> => {
    const full: Record<string, unknown> = {
      _id: mongoId(repo.id),
      id: repo.id,
      modelId: repo.id,
      author: repo.id.includes('/') ? repo.id.split('/')[0] : undefined,
      sha: rev.sha,
      lastModified: LAST_MODIFIED,
      createdAt: LAST_MODIFIED,
      private: false,
      disabled: false,
      gated: repo.gated,
      downloads: 0,
      likes: 0,
      tags: rev.tags,
      pipeline_tag: rev.pipelineTag,
      library_name: rev.files.has('config.json') && rev.tags.includes('onnx') ? 'transformers.js' : undefined,
      config: rev.config,
      siblings: [...rev.files.keys()].map((rfilename) => ({ rfilename })),
      spaces: [],
      usedStorage: [...rev.files.values()].reduce((sum, f) => sum + f.size, 0),
    };
    if (expand.length === 0) return full;
    // With `expand`, the Hub only returns `_id`, `id` and the requested fields.
    const picked: Record<string, unknown> = { _id: full['_id'], id: full['id'] };
    for (const key of expand) {
      if (key in full) picked[key] = full[key];
    }
    return picked;
  };

  const handleApi = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    rawRepo: string,
    kind: string | undefined,
    rest: string | undefined,
  ): Promise<void> => {
    const repoId = decodeSegments(rawRepo);
    if (repoId === undefined || repoId.split('/').length > 2) {
      sendError(req, res, 404, undefined, 'Not Found');
      return;
    }
    const repo = repos.get(repoId);
    if (!repo) {
      sendError(req, res, 404, 'RepoNotFound', 'Repository not found');
      return;
    }

    if (kind === undefined || kind === 'revision') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendError(req, res, 405, undefined, 'Method Not Allowed');
        return;
      }
      if (kind === 'revision' && !rest) {
        sendError(req, res, 404, undefined, 'Not Found');
        return;
      }
      const revName = kind === 'revision' && rest ? decodeSegments(rest) : DEFAULT_BRANCH;
      const rev = revName === undefined ? undefined : findRevision(repo, revName);
      if (!rev) {
        sendError(req, res, 404, 'RevisionNotFound', `Revision not found: ${revName ?? rest ?? ''}`);
        return;
      }
      const expand = url.searchParams.getAll('expand').flatMap((e) => e.split(','));
      sendJson(req, res, 200, modelInfoJson(repo, rev, expand));
      return;
    }

    if (kind === 'tree') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendError(req, res, 405, undefined, 'Method Not Allowed');
        return;
      }
      const slash = rest?.indexOf('/') ?? -1;
      const revName = decodeSegments(slash < 0 ? (rest ?? '') : (rest ?? '').slice(0, slash));
      const dirPath = decodeSegments(slash < 0 ? '' : (rest ?? '').slice(slash + 1))?.replace(
        /^\/+|\/+$/g,
        '',
      );
      if (!revName) {
        sendError(req, res, 404, undefined, 'Not Found');
        return;
      }
      const rev = findRevision(repo, revName);
      if (!rev) {
        sendError(req, res, 404, 'RevisionNotFound', `Revision not found: ${revName}`);
        return;
      }
      if (dirPath === undefined || (dirPath !== '' && !rev.dirs.has(dirPath))) {
        sendError(req, res, 404, 'EntryNotFound', `Entry not found: ${dirPath ?? ''} is not a directory`);
        return;
      }
      const recursive = isTruthy(url.searchParams.get('recursive'));
      const expand = isTruthy(url.searchParams.get('expand'));
      const prefix = dirPath === '' ? '' : `${dirPath}/`;
      const matching = rev.entries.filter((e) => {
        if (!e.path.startsWith(prefix)) return false;
        return recursive || !e.path.slice(prefix.length).includes('/');
      });
      const cursor = url.searchParams.get('cursor');
      const offset = cursor ? Number(Buffer.from(cursor, 'base64url').toString('utf8')) : 0;
      if (!Number.isInteger(offset) || offset < 0) {
        sendError(req, res, 400, undefined, 'Invalid cursor');
        return;
      }
      const page = matching.slice(offset, offset + pageSize).map((e) => treeEntry(rev, e, expand));
      const headers: Record<string, string> = {};
      if (offset + pageSize < matching.length) {
        const next = new URL(url.pathname + url.search, baseUrl);
        next.searchParams.set('cursor', Buffer.from(String(offset + pageSize)).toString('base64url'));
        headers['Link'] = `<${next.href}>; rel="next"`;
      }
      sendJson(req, res, 200, page, headers);
      return;
    }

    // paths-info
    if (req.method !== 'POST') {
      sendError(req, res, 405, undefined, 'Method Not Allowed');
      return;
    }
    const revName = rest ? decodeSegments(rest) : undefined;
    const rev = revName === undefined ? undefined : findRevision(repo, revName);
    if (!rev) {
      sendError(req, res, 404, 'RevisionNotFound', `Revision not found: ${revName ?? rest ?? ''}`);
      return;
    }
    const body = await readBody(req);
    let paths: string[] = [];
    let expand = false;
    if ((req.headers['content-type'] ?? '').includes('application/json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        sendError(req, res, 400, undefined, 'Invalid JSON body');
        return;
      }
      if (parsed && typeof parsed === 'object') {
        const p: unknown = (parsed as { paths?: unknown }).paths;
        paths = (Array.isArray(p) ? p : [p]).filter((x): x is string => typeof x === 'string');
        const e: unknown = (parsed as { expand?: unknown }).expand;
        expand = typeof e === 'boolean' || typeof e === 'string' ? isTruthy(e) : false;
      }
    } else {
      const form = new URLSearchParams(body);
      paths = form.getAll('paths');
      expand = isTruthy(form.get('expand'));
    }
    const seen = new Set<string>();
    const result: TreeEntryJson[] = [];
    for (const raw of paths) {
      const p = raw.replace(/^\/+|\/+$/g, '');
      if (seen.has(p)) continue;
      seen.add(p);
      // Like the Hub, paths that do not exist are left out (no error).
      const entry = rev.files.get(p) ?? rev.dirs.get(p);
      if (entry) result.push(treeEntry(rev, entry, expand));
    }
    sendJson(req, res, 200, result);
  };

  const handleFile = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rawRepo: string,
    kind: string,
    rawRev: string,
    rawPath: string,
  ): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(req, res, 405, undefined, 'Method Not Allowed');
      return;
    }
    const repoId = decodeSegments(rawRepo);
    const repo = repoId === undefined ? undefined : repos.get(repoId);
    if (!repo || repoId === undefined) {
      sendError(req, res, 404, 'RepoNotFound', 'Repository not found');
      return;
    }
    if (repo.gated) {
      const auth = req.headers.authorization;
      if (!auth || !options.token || auth !== `Bearer ${options.token}`) {
        const message = auth
          ? `Access to model ${repoId} is restricted: invalid credentials in Authorization header.`
          : `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
        sendError(req, res, 401, 'GatedRepo', message);
        return;
      }
    }
    const revName = decodeSegments(rawRev);
    const rev = revName === undefined ? undefined : findRevision(repo, revName);
    if (!rev) {
      sendError(req, res, 404, 'RevisionNotFound', `Revision not found: ${revName ?? rawRev}`);
      return;
    }
    const filePath = decodeSegments(rawPath);
    const file = filePath === undefined ? undefined : rev.files.get(filePath);
    if (!file) {
      sendError(req, res, 404, 'EntryNotFound', 'Entry not found', { 'X-Repo-Commit': rev.sha });
      return;
    }

    const pointer = kind === 'raw' && file.lfs ? Buffer.from(file.lfs.pointer) : undefined;
    const size = pointer ? pointer.length : file.size;
    const headers: Record<string, string> = {
      'Accept-Ranges': 'bytes',
      'Content-Type': pointer ? 'text/plain; charset=utf-8' : contentTypeOf(file.path),
      ETag: `"${file.lfs && !pointer ? file.lfs.oid : file.oid}"`,
      'X-Repo-Commit': rev.sha,
    };
    if (file.lfs) {
      headers['X-Linked-Etag'] = `"${file.lfs.oid}"`;
      headers['X-Linked-Size'] = String(file.lfs.size);
      if (!pointer) {
        const name = path.posix.basename(file.path);
        headers['Content-Disposition'] =
          `inline; filename*=UTF-8''${encodeURIComponent(name)}; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}";`;
      }
    }

    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      // Note: this includes any Range on an empty file, which @huggingface/hub's size probe cannot handle.
      sendError(req, res, 416, undefined, 'Requested Range Not Satisfiable', {
        'Accept-Ranges': 'bytes',
        'X-Repo-Commit': rev.sha,
        'Content-Range': `bytes */${size}`,
      });
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const length = size === 0 ? 0 : end - start + 1;
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Content-Length': String(length),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    if (pointer) {
      res.end(pointer.subarray(start, end + 1));
      return;
    }
    const stream = createReadStream(file.absPath, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };

  const server = http.createServer((req, res) => {
    const rawUrl = req.url?.startsWith('/') ? req.url : `/${req.url ?? ''}`;
    // Concatenate rather than resolve against the base, so that `//x/y` stays a path.
    const url = new URL(`${baseUrl}${rawUrl}`);
    const authorization = req.headers.authorization;
    const range = req.headers.range;
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      url: rawUrl,
      ...(authorization !== undefined ? { authorization } : {}),
      ...(range !== undefined ? { range } : {}),
    });

    const handle = async (): Promise<void> => {
      const api = /^\/api\/models\/(.+?)(?:\/(revision|tree|paths-info)(?:\/(.*))?)?$/.exec(url.pathname);
      if (api?.[1]) {
        await handleApi(req, res, url, api[1], api[2], api[3]);
        return;
      }
      const file = /^\/(.+?)\/(resolve|raw)\/([^/]+)\/(.+)$/.exec(url.pathname);
      if (file?.[1] && file[2] && file[3] && file[4] && !url.pathname.startsWith('/api/')) {
        handleFile(req, res, file[1], file[2], file[3], file[4]);
        return;
      }
      sendError(req, res, 404, undefined, 'Not Found');
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(req, res, 500, undefined, `mock hub error: ${String(err)}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new Error('mock hub: unexpected server address');
  }
  baseUrl = `http://127.0.0.1:${address.port}`;

  return {
    url: baseUrl,
    requests,
    sha(repoId: string, revision: string = DEFAULT_BRANCH): string {
      const repo = repos.get(repoId);
      const rev = repo && findRevision(repo, revision);
      if (!rev) throw new Error(`mock hub: unknown repo or revision ${repoId}@${revision}`);
      return rev.sha;
    },
    close(): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
