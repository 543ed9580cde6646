// A perf_analyzer-style concurrency sweep: per level, N closed-loop virtual users (each sends its next
// request when the previous one answered) POST the corpus round-robin for a fixed window, while a
// separate sequential prober times GET /health. Loopback only, bounded in time and in requests.
import { Agent, request, type IncomingMessage } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { round3, summarize, type LatencySummary } from './stats.ts';

export interface SweepOptions {
  /** The endpoint to POST to, e.g. http://127.0.0.1:8080/models/bert. */
  url: string;
  /** Virtual users per level, one level after the other. */
  concurrency: number[];
  /** Measured window of each level, in seconds. */
  durationS: number;
  /** Requests to send round-robin (each virtual user takes the next one). */
  corpus: string[];
  /** The JSON body of one corpus entry; default `{"inputs": text}`. */
  body?: (text: string) => unknown;
  /** Unmeasured load before each level's window, in seconds (default 1). */
  warmupS?: number;
  /** Stops a level's window early after this many measured requests (default 100000). */
  maxRequests?: number;
  /** Path probed sequentially during each window (default /health); false: no probing. */
  healthPath?: string | false;
  /** Pause between two /health probes, in milliseconds (default 20). */
  healthIntervalMs?: number;
  /** A request unanswered after this long counts as a `timeout` error (default 30000). */
  requestTimeoutMs?: number;
  /** Called after each level, for progress output. */
  onLevel?: (level: LevelResult) => void;
}

export interface HealthResult {
  probes: number;
  errors: number;
  latencyMs: LatencySummary;
}

export interface LevelResult {
  concurrency: number;
  /** Length of the measured window, in seconds. */
  windowS: number;
  /** Requests answered within the window, errors included. */
  requests: number;
  errors: number;
  /** Errors by HTTP status ("500") or network error code ("ECONNRESET", "timeout"). */
  errorsBy: Record<string, number>;
  /** Successful requests per second. */
  throughput: number;
  /** Latency of the successful requests, in milliseconds. */
  latencyMs: LatencySummary;
  health?: HealthResult;
  /** p99 event-loop delay of the load generator itself: large values would make the figures suspect. */
  clientLagP99Ms: number;
}

export interface SweepResult {
  url: string;
  startedAt: string;
  durationS: number;
  warmupS: number;
  corpusSize: number;
  levels: LevelResult[];
}

// The delay histogram samples a timer of this period and records whole periods; the lag is the excess.
const LAG_RESOLUTION_MS = 10;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The load generator only targets this machine: it is a measuring tool, not a load test of others. */
export function assertLoopback(url: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || !LOOPBACK.has(parsed.hostname)) {
    throw new Error(`bench targets http:// on loopback only (127.0.0.1, localhost, [::1]); got ${url}`);
  }
  return parsed;
}

type Outcome = { ok: true } | { ok: false; key: string };

function send(
  url: URL,
  agent: Agent,
  method: 'GET' | 'POST',
  payload: Buffer | undefined,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {};
    const req = request(url, { method, agent, headers }, (res: IncomingMessage) => {
      // The answer counts once its whole body arrived, as a client would use it.
      res.on('data', () => undefined);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 300 ? { ok: true } : { ok: false, key: String(status) });
      });
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, key: error.code ?? 'error' }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, key: error.code ?? 'error' }));
    req.end(payload);
  });
}

async function probeHealth(
  url: URL,
  until: () => boolean,
  intervalMs: number,
  timeoutMs: number,
): Promise<HealthResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  let errors = 0;
  try {
    while (!until()) {
      const started = performance.now();
      const outcome = await send(url, agent, 'GET', undefined, timeoutMs);
      const elapsed = performance.now() - started;
      if (outcome.ok) samples.push(elapsed);
      else errors++;
      await sleep(Math.max(0, intervalMs - elapsed));
    }
  } finally {
    agent.destroy();
  }
  return { probes: samples.length + errors, errors, latencyMs: summarize(samples) };
}

interface LevelSettings {
  url: URL;
  healthUrl: URL | undefined;
  payloads: Buffer[];
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
  healthIntervalMs: number;
  requestTimeoutMs: number;
}

async function runLevel(concurrency: number, s: LevelSettings): Promise<LevelResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  const latencies: number[] = [];
  const errorsBy: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const windowStart = start + s.warmupMs;
  let windowEnd = windowStart + s.durationMs;
  const closed = (): boolean => performance.now() >= windowEnd;

  const user = async (): Promise<void> => {
    while (!closed()) {
      const payload = s.payloads[next++ % s.payloads.length] ?? Buffer.alloc(0);
      const sent = performance.now();
      const outcome = await send(s.url, agent, 'POST', payload, s.requestTimeoutMs);
      const answered = performance.now();
      // A request counts in the window it was answered in; those answered later are drained unmeasured.
      if (answered < windowStart || answered > windowEnd) continue;
      if (outcome.ok) latencies.push(answered - sent);
      else {
        errors++;
        errorsBy[outcome.key] = (errorsBy[outcome.key] ?? 0) + 1;
      }
      if (latencies.length + errors >= s.maxRequests) windowEnd = answered;
    }
  };

  try {
    const users = Array.from({ length: concurrency }, user);
    await sleep(s.warmupMs);
    lag.enable();
    const health = s.healthUrl && probeHealth(s.healthUrl, closed, s.healthIntervalMs, s.requestTimeoutMs);
    await Promise.all(users);
    lag.disable();
    const windowS = Math.max(1e-9, Math.min(windowEnd, performance.now()) - windowStart) / 1000;
    return {
      concurrency,
      windowS: round3(windowS),
      requests: latencies.length + errors,
      errors,
      errorsBy,
      throughput: round3(latencies.length / windowS),
      latencyMs: summarize(latencies),
      ...(health ? { health: await health } : {}),
      clientLagP99Ms: round3(lag.count > 0 ? Math.max(0, lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS) : 0),
    };
  } finally {
    agent.destroy();
  }
}

/** Runs each concurrency level in turn against `url`; each level takes about warmup + duration. */
export async function runSweep(options: SweepOptions): Promise<SweepResult> {
  const url = assertLoopback(options.url);
  if (options.corpus.length === 0) throw new Error('the corpus is empty');
  const levels = options.concurrency;
  if (levels.length === 0 || !levels.every((c) => Number.isInteger(c) && c >= 1 && c <= 1024)) {
    throw new Error(`concurrency levels must be integers within 1..1024, got ${levels.join(',')}`);
  }
  if (!(options.durationS > 0 && options.durationS <= 3600)) {
    throw new Error(`durationS must be within (0, 3600], got ${options.durationS}`);
  }
  const warmupS = options.warmupS ?? 1;
  if (!(warmupS >= 0 && warmupS <= 3600)) throw new Error(`warmupS must be within [0, 3600], got ${warmupS}`);
  const body = options.body ?? ((text: string) => ({ inputs: text }));
  const healthPath = options.healthPath ?? '/health';
  const settings: LevelSettings = {
    url,
    healthUrl: healthPath === false ? undefined : new URL(healthPath, url),
    payloads: options.corpus.map((text) => Buffer.from(JSON.stringify(body(text)))),
    warmupMs: warmupS * 1000,
    durationMs: options.durationS * 1000,
    maxRequests: options.maxRequests ?? 100_000,
    healthIntervalMs: options.healthIntervalMs ?? 20,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
  };
  const result: SweepResult = {
    url: options.url,
    startedAt: new Date().toISOString(),
    durationS: options.durationS,
    warmupS,
    corpusSize: options.corpus.length,
    levels: [],
  };
  for (const concurrency of levels) {
    const level = await runLevel(concurrency, settings);
    result.levels.push(level);
    options.onLevel?.(level);
  }
  return result;
}
