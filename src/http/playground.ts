// The web playground: GET / and GET /playground/{file}, plain HTML, CSS and ES modules from
// public/playground/ (no build step), read once at startup and served with a strict CSP.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServeError } from '../errors.ts';

/** public/playground/, from src/http/ (tsx) and from dist/http/ (built) alike. */
export const PLAYGROUND_DIR = new URL('../../public/playground/', import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Only plain names with a known extension: no dots, slashes or hidden files, hence no traversal. */
const SAFE_NAME = /^[a-z0-9][a-z0-9-]{0,63}\.(html|js|css|svg)$/;

/** No inline script or style, nothing from elsewhere; the page only talks to this server. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Reads the allowed files of the folder; a missing folder serves nothing (and says so at GET /). */
export async function loadAssets(dir: URL = PLAYGROUND_DIR): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  let names: string[];
  try {
    names = await readdir(fileURLToPath(dir));
  } catch {
    return assets;
  }
  for (const name of names.filter((n) => SAFE_NAME.test(n)).sort()) {
    const body = await readFile(new URL(name, dir));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { body, type: TYPES[extname(name)] ?? 'application/octet-stream', etag });
  }
  return assets;
}

export async function playgroundRoutes(app: FastifyInstance): Promise<void> {
  const assets = await loadAssets();
  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    void reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag);
    if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
    return reply.type(asset.type).send(asset.body);
  };
  // Open without a key: the page asks for one and sends it with its API calls.
  const hide = { schema: { hide: true }, config: { scope: 'public' as const } };
  app.get('/', hide, async (request, reply) => {
    const page = assets.get('index.html');
    if (!page) {
      throw new ServeError('not_found', 'the playground is not installed (public/playground/ is missing)');
    }
    return send(request, reply, page);
  });
  app.get<{ Params: { file: string } }>('/playground/:file', hide, async (request, reply) => {
    const { file } = request.params;
    const asset = SAFE_NAME.test(file) ? assets.get(file) : undefined;
    if (!asset) throw new ServeError('not_found', `no playground file ${JSON.stringify(file)}`);
    return send(request, reply, asset);
  });
}
