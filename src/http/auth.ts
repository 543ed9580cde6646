// Bearer API keys on every route: each route names the scope it needs in its config (`scope`), and
// one that names none needs `infer`, so that a route added later is protected unless it says
// otherwise. Public: health probes, the playground page, the API docs. Inference routes also count
// against the tenant's rate limit and the key's quota.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller, Keyring, Scope } from '../auth/keys.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a caller's key needs; 'public' needs no key. Absent: 'infer'. */
    scope?: Scope | 'public';
  }
  interface FastifyRequest {
    /** Who called, when the server has API keys. */
    caller?: Caller;
  }
  interface FastifyInstance {
    /** The API keys, when the server has them. */
    keyring: Keyring | null;
  }
}

/**
 * Counts one more model run by the request's caller against its rate and quota (a message on the
 * conversation socket, whose upgrade request was counted once): 429 errors past them.
 */
export function admitAnother(request: FastifyRequest): void {
  if (request.caller) request.server.keyring?.admit(request.caller, true);
}

/** Routes of plugins that cannot set a route config themselves (Swagger UI). */
const PUBLIC_PREFIXES = ['/docs'];

export function registerAuth(app: FastifyInstance, keyring: Keyring | undefined): void {
  app.addHook('onRoute', (route) => {
    if (PUBLIC_PREFIXES.some((p) => route.url.startsWith(p)))
      route.config = { ...route.config, scope: 'public' };
  });
  app.decorate('keyring', keyring ?? null);
  if (!keyring) return;
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope ?? 'infer';
    // A CORS preflight never carries the key; the request it announces does.
    if (scope === 'public' || request.method === 'OPTIONS') return;
    const caller = keyring.authenticate(request.headers.authorization);
    keyring.authorize(caller, scope);
    // Every infer request counts against the rate; only those that run a model against the quota.
    if (scope === 'infer') keyring.admit(caller, request.method === 'POST');
    request.caller = caller;
  });
}

/** Whether `host` only listens on this machine. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
