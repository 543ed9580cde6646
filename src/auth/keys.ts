// API keys: who calls (a key, known only by its hash, belongs to a tenant), what it may do (scopes),
// and how much (a token bucket per tenant, an optional daily quota per key). Nothing here knows HTTP.
import { createHash, randomBytes } from 'node:crypto';
import { ServeError } from '../errors.ts';

export const SCOPES = ['infer', 'metrics', 'admin'] as const;
/** infer: run models; metrics: read /metrics; admin: everything. */
export type Scope = (typeof SCOPES)[number];

export interface RateLimit {
  requests_per_s: number;
  burst: number;
}

export interface ApiKeyEntry {
  name: string;
  /** `sha256:<hex>` of the key. */
  hash: string;
  scopes: Scope[];
  /** The tenant it acts for (its name when absent). */
  tenant?: string;
  rate_limit?: RateLimit;
  /** Requests a UTC day. */
  daily_quota?: number;
}

/** Who is calling, once their key is known. */
export interface Caller {
  key: string;
  tenant: string;
  scopes: readonly Scope[];
}

/** Keys are 256 random bits, so one fast hash is enough (unlike passwords, nothing to brute-force). */
export const hashKey = (key: string): string => `sha256:${createHash('sha256').update(key).digest('hex')}`;

/** A new key and its config entry. */
export function newKey(): { key: string; hash: string } {
  const key = `hs_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashKey(key) };
}

class TokenBucket {
  private tokens: number;
  private updated = performance.now();

  constructor(private readonly limit: RateLimit) {
    this.tokens = limit.burst;
  }

  /** Takes a token, or answers how many seconds until one is there. */
  take(): number {
    const now = performance.now();
    const refill = ((now - this.updated) / 1000) * this.limit.requests_per_s;
    this.tokens = Math.min(this.limit.burst, this.tokens + refill);
    this.updated = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.limit.requests_per_s;
  }
}

const utcDay = (): string => new Date().toISOString().slice(0, 10);

export class Keyring {
  private readonly byHash = new Map<string, ApiKeyEntry>();
  private readonly byName = new Map<string, ApiKeyEntry>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly used = new Map<string, { day: string; count: number }>();

  constructor(
    entries: readonly ApiKeyEntry[],
    /** Requests per second of a tenant whose key sets none. */
    private readonly defaultLimit?: RateLimit,
  ) {
    for (const entry of entries) {
      if (this.byHash.has(entry.hash) || this.byName.has(entry.name)) {
        throw new ServeError('invalid_config', `api_keys: two keys named ${entry.name} or with one hash`);
      }
      this.byHash.set(entry.hash, entry);
      this.byName.set(entry.name, entry);
    }
  }

  get size(): number {
    return this.byHash.size;
  }

  /** The caller of an `Authorization: Bearer <key>` header; unauthorized otherwise. */
  authenticate(authorization: string | undefined): Caller {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match?.[1]) {
      throw new ServeError('unauthorized', 'send an API key: Authorization: Bearer <key>');
    }
    const entry = this.byHash.get(hashKey(match[1]));
    if (!entry) throw new ServeError('unauthorized', 'the API key is not valid');
    return { key: entry.name, tenant: entry.tenant ?? entry.name, scopes: entry.scopes };
  }

  /** Forbidden unless the caller's key has the scope (admin has them all). */
  authorize(caller: Caller, scope: Scope): void {
    if (caller.scopes.includes(scope) || caller.scopes.includes('admin')) return;
    throw new ServeError('forbidden', `the API key "${caller.key}" lacks the ${scope} scope`, { scope });
  }

  /**
   * Counts a request against the key's daily quota (inference requests only: `billable`) and its
   * rate: the key's own limit when it sets one, else the tenant's shared one. 429 errors past them.
   */
  admit(caller: Caller, billable: boolean): void {
    const entry = this.byName.get(caller.key);
    const quota = entry?.daily_quota;
    const day = utcDay();
    const used = this.used.get(caller.key);
    const count = used?.day === day ? used.count : 0;
    if (billable && quota !== undefined && count >= quota) {
      const midnight = Date.parse(`${day}T00:00:00Z`) + 86_400_000;
      throw new ServeError(
        'quota_exceeded',
        `the API key "${caller.key}" has used its ${quota} requests of today (UTC)`,
        { retry_after_s: Math.ceil((midnight - Date.now()) / 1000) },
      );
    }
    const limit = entry?.rate_limit ?? this.defaultLimit;
    if (limit) {
      const id = entry?.rate_limit ? `key\u0000${caller.key}` : `tenant\u0000${caller.tenant}`;
      let bucket = this.buckets.get(id);
      if (!bucket) this.buckets.set(id, (bucket = new TokenBucket(limit)));
      const wait = bucket.take();
      if (wait > 0) {
        const who = entry?.rate_limit ? `the API key "${caller.key}"` : `tenant "${caller.tenant}"`;
        throw new ServeError(
          'rate_limited',
          `${who} is over ${limit.requests_per_s} requests/s (burst ${limit.burst})`,
          { retry_after_s: Math.ceil(wait) },
        );
      }
    }
    if (billable && quota !== undefined) this.used.set(caller.key, { day, count: count + 1 });
  }
}
