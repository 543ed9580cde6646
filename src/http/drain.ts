// Shutting down without losing a request, the way Envoy and NGINX drain. SIGTERM starts `begin()`:
// every answer from then on carries `Connection: close`, so each client learns with its next answer
// to reconnect (elsewhere, once the balancer has caught up), while the server still serves. Then
// `refuse()`: a request still arriving gets 503 shutting_down (the contract's error, with
// Retry-After), and a connection with nothing in progress for a second is closed. The listener stays
// open until the connections are gone: closing it earlier would reset the connections the kernel
// has accepted but Node has not, requests already written on them. And a connection is never reset
// under a client that is sending: closing sends FIN and keeps reading (and dropping) what still
// arrives, for a bounded time, the lingering close NGINX uses, also for a 413 answered before its
// body was read.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { ServeError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** How the app's connections end when the server shuts down. */
    drain: ConnectionDrain;
  }
}

/** How long a closing connection keeps reading what its client still sends. */
export interface LingerLimits {
  /** At most this long in all (NGINX's lingering_time). */
  totalMs: number;
  /** Closed once the client has sent nothing for this long (NGINX's lingering_timeout). */
  quietMs: number;
  /** Closed once it has dropped this much. */
  maxBytes: number;
}

export const LINGER: LingerLimits = { totalMs: 30_000, quietMs: 5_000, maxBytes: 1024 ** 3 };

/**
 * Closes a connection without resetting it under a client still sending: FIN after what was written
 * (the client reads its whole answer), then what still arrives (the rest of `request`'s body, say) is
 * read and dropped until the client closes its side or a limit is reached.
 */
export function closeLingering(socket: Socket, request?: IncomingMessage, limits = LINGER): void {
  if (socket.destroyed) return;
  const stop = (): void => {
    socket.destroy();
  };
  const total = setTimeout(stop, limits.totalMs);
  const quiet = setTimeout(stop, limits.quietMs);
  let dropped = 0;
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > limits.maxBytes) stop();
    else quiet.refresh();
  };
  request?.on('data', onData).resume();
  socket.once('end', stop).once('close', () => {
    clearTimeout(total);
    clearTimeout(quiet);
    request?.off('data', onData);
  });
  socket.end();
}

/**
 * After this answer, close the connection lingering instead of at once: for an answer sent before
 * its request's body was read (413), whose client is still writing it.
 */
export function lingerAfter(request: IncomingMessage): void {
  const socket = request.socket as Socket & { destroySoon?: () => void };
  // Node ends a `Connection: close` exchange with destroySoon(), which resets a socket still receiving.
  socket.destroySoon = () => closeLingering(socket, request);
}

type Phase = 'serving' | 'draining' | 'refusing';

/** Once refusing, a connection with no request in progress for this long is closed. */
const IDLE_CLOSE_MS = 1_000;
/**
 * Connections are gone once none has been open for this long: a client between an answer with
 * `Connection: close` and its next connection would otherwise find the listener closing.
 */
const SETTLED_MS = 250;

interface Connection {
  /** Requests in progress on it. */
  requests: number;
  /** When it last had none left (or was accepted). */
  idleSince: number;
  /** Upgraded (a WebSocket): its owner closes it. */
  upgraded: boolean;
}

/** The connections of one HTTP server, and how they end when it shuts down. */
export class ConnectionDrain {
  private phase: Phase = 'serving';
  private readonly connections = new Map<Socket, Connection>();
  private readonly refusingHandlers: (() => void)[] = [];
  /** When the last connection closed (undefined while one is open). */
  private emptySince: number | undefined = performance.now();
  private reaper: NodeJS.Timeout | undefined;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, { requests: 0, idleSince: performance.now(), upgraded: false });
      this.emptySince = undefined;
      socket.once('close', () => {
        this.connections.delete(socket);
        if (this.connections.size === 0) this.emptySince = performance.now();
      });
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      this.track(request, response),
    );
    server.on('upgrade', (request: IncomingMessage) => {
      const connection = this.connections.get(request.socket);
      if (connection) connection.upgraded = true;
    });
  }

  /** Whether answers must carry `Connection: close`. */
  get draining(): boolean {
    return this.phase !== 'serving';
  }

  /** Whether a new request is refused (503 shutting_down). */
  get refusing(): boolean {
    return this.phase === 'refusing';
  }

  /** Calls `handler` when refusals start (a WebSocket route ends its sockets then). */
  onRefusing(handler: () => void): void {
    this.refusingHandlers.push(handler);
  }

  /** From now on every answer says `Connection: close`; requests are still served. */
  begin(): void {
    if (this.phase === 'serving') this.phase = 'draining';
  }

  /** From now on new requests get 503, and idle connections are closed. */
  refuse(): void {
    if (this.phase === 'refusing') return;
    this.phase = 'refusing';
    this.reaper = setInterval(() => this.closeIdle(), 100);
    this.closeIdle();
    for (const handler of this.refusingHandlers) handler();
  }

  /** Resolves once every connection has closed (and none came since), or at `ms`, closing what is left. */
  async closed(ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    for (;;) {
      const now = performance.now();
      if (this.emptySince !== undefined && now - this.emptySince >= SETTLED_MS) break;
      if (now >= deadline) {
        for (const socket of this.connections.keys()) socket.destroy();
        break;
      }
      await sleep(Math.min(50, deadline - now));
    }
    clearInterval(this.reaper);
  }

  private closeIdle(): void {
    const now = performance.now();
    for (const [socket, c] of this.connections) {
      if (c.requests === 0 && !c.upgraded && now - c.idleSince >= IDLE_CLOSE_MS) closeLingering(socket);
    }
  }

  private track(request: IncomingMessage, response: ServerResponse): void {
    const connection = this.connections.get(request.socket);
    if (!connection) return;
    connection.requests++;
    response.once('close', () => {
      connection.requests--;
      if (connection.requests === 0) connection.idleSince = performance.now();
    });
  }
}

/** The drain of `app`'s server: `Connection: close` once draining, 503 shutting_down once refusing. */
export function registerDrain(app: FastifyInstance): void {
  const drain = new ConnectionDrain(app.server);
  app.decorate('drain', drain);
  app.addHook('onRequest', async () => {
    if (drain.refusing) {
      throw new ServeError('shutting_down', 'the server is shutting down; retry on another instance');
    }
  });
  app.addHook('onSend', async (_request, reply) => {
    if (drain.draining) void reply.header('connection', 'close');
  });
}
