// Sessions: a caller's hold on a model for a while (a user's conversation, a batch job). While a
// session lives its model stays loaded (pinned: never unloaded for the budget or for idleness);
// it expires after ttl_s without use, or when deleted. A session belongs to its tenant: another
// tenant cannot see it.
import { randomUUID } from 'node:crypto';
import { ServeError } from '../errors.ts';

export interface Session {
  id: string;
  model: string;
  tenant: string;
  ttlS: number;
  /** Unix milliseconds; each use moves it ttl_s ahead. */
  expiresAt: number;
}

interface Pins {
  pin(model: string): void;
  unpin(model: string): void;
}

export class Sessions {
  private readonly live = new Map<string, { session: Session; timer: NodeJS.Timeout }>();

  constructor(private readonly pins: Pins) {}

  create(model: string, tenant: string, ttlS: number): Session {
    const session: Session = { id: randomUUID(), model, tenant, ttlS, expiresAt: 0 };
    this.pins.pin(model);
    this.live.set(session.id, { session, timer: this.expiry(session) });
    return session;
  }

  /** The tenant's session (404 session_not_found for an unknown, expired or other tenant's one). */
  get(id: string, tenant: string): Session {
    const held = this.live.get(id);
    if (!held || held.session.tenant !== tenant) {
      throw new ServeError('session_not_found', `no session ${id}: it expired, was deleted, or never was`);
    }
    return held.session;
  }

  /** Marks a use: the session lives ttl_s from now. */
  touch(id: string, tenant: string): Session {
    const session = this.get(id, tenant);
    const held = this.live.get(id);
    if (held) {
      clearTimeout(held.timer);
      held.timer = this.expiry(session);
    }
    return session;
  }

  delete(id: string, tenant: string): void {
    this.get(id, tenant);
    this.end(id);
  }

  /** Ends the sessions on a model version that goes away: their holders get session_not_found. */
  endFor(model: string): void {
    for (const [id, held] of this.live) if (held.session.model === model) this.end(id);
  }

  /** Ends every session (shutdown). */
  clear(): void {
    for (const id of [...this.live.keys()]) this.end(id);
  }

  private expiry(session: Session): NodeJS.Timeout {
    session.expiresAt = Date.now() + session.ttlS * 1000;
    return setTimeout(() => this.end(session.id), session.ttlS * 1000).unref();
  }

  private end(id: string): void {
    const held = this.live.get(id);
    if (!held) return;
    clearTimeout(held.timer);
    this.live.delete(id);
    this.pins.unpin(held.session.model);
  }
}
