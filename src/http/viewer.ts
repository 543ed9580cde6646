// Which model version a request reaches: what its caller's tenant may see, which side of a traffic
// split its user is on, and the session it names in X-Session-Id.
import type { FastifyRequest } from 'fastify';
import { ServeError } from '../errors.ts';
import type { Registry, Viewer } from '../registry/registry.ts';

/**
 * The caller as routing sees it: its key's tenant ('' without keys), and its user for a split's
 * stickiness: X-User-Id when the application names its end users, else the key, else the address.
 */
export function viewerOf(request: FastifyRequest): Viewer & { tenant: string } {
  const named = request.headers['x-user-id'];
  const user = typeof named === 'string' && named !== '' ? named : (request.caller?.key ?? request.ip);
  return { tenant: request.caller?.tenant ?? '', user };
}

/**
 * The key of the version `ref` reaches for this request. With X-Session-Id, the session's version
 * (kept alive by this use), which must be of the model `ref` names.
 */
export function servedKey(request: FastifyRequest, registry: Registry, ref: string): string {
  const viewer = viewerOf(request);
  const key = registry.route(ref, viewer);
  const id = request.headers['x-session-id'];
  if (typeof id !== 'string') return key;
  const session = registry.sessions.touch(id, viewer.tenant);
  const held = registry.get(session.model);
  const asked = registry.get(key);
  const sameModel = held.name === asked.name && held.tenant === asked.tenant;
  if (!sameModel || (ref.includes('@') && held.key !== key)) {
    throw new ServeError('invalid_request', `session ${id} is for model "${held.key}", not "${ref}"`);
  }
  return held.key;
}
