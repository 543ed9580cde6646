// A rolling restart under load: clients behind a balancer (round robin over the servers it routes to,
// retrying where nothing was served: a refused connection or 503 shutting_down, as Envoy's
// connect-failure and retriable-status policies do) post steadily to one hubserve; a second one starts
// and becomes ready, joins the balancer, the old one gets SIGTERM and leaves the balancer a moment
// later (endpoints propagate late); the load goes on until the old one has exited. Any request the
// clients saw fail counts: a reset, a timeout, an error status.
import type { ChildProcess } from 'node:child_process';
import { freePort, hubserveArgs, startChildServer } from '../src/loadtest/index.ts';

export interface RollingPlan {
  concurrency: number;
  /** Load before the new server starts, seconds. */
  warmupS: number;
  /** How long the balancer still routes to the old server after its SIGTERM, seconds. */
  propagationS: number;
  /** hubserve's drain delay, seconds. */
  drainDelayS: number;
}

export interface RollingResult extends RollingPlan {
  requests: number;
  /** Answers other than 200 the client saw, and connections that failed after a request was sent. */
  failed: number;
  failures: Record<string, number>;
  /** Requests the balancer sent again elsewhere (refused, or 503 shutting_down). */
  retried: number;
  /** Requests the old server answered after its SIGTERM. */
  servedWhileDraining: number;
  /** From the old server's SIGTERM to its exit. */
  sigtermToExitS: number;
  exitCode: number | string | null;
}

const RETRIABLE = new Set(['ECONNREFUSED', '503 shutting_down']);

async function post(url: string, inputs: string): Promise<string> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status === 200) return '200';
    return `${response.status} ${(JSON.parse(text) as { error?: { code?: string } }).error?.code ?? ''}`;
  } catch (error) {
    const { cause, name } = error as { cause?: { code?: string }; name?: string };
    return cause?.code ?? name ?? String(error);
  }
}

const exitOf = (child: ChildProcess): Promise<number | string | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode);
    else child.once('exit', (code, signal) => resolve(code ?? signal));
  });

export async function runRolling(
  model: string,
  plan: RollingPlan,
  sentences: readonly string[],
  log: (line: string) => void,
): Promise<RollingResult> {
  const start = async () => {
    const port = await freePort();
    const args = hubserveArgs(port, [`bert=${model}`, '--drain-delay-s', String(plan.drainDelayS)]);
    return startChildServer({ name: 'hubserve', args, port, readyPath: '/ready' });
  };
  const old = await start();
  const routed = [old.url];
  let next = 0;
  let stopping = false;
  let draining = false;
  const result = { requests: 0, failed: 0, retried: 0, servedWhileDraining: 0 };
  const failures: Record<string, number> = {};
  const client = async (i: number): Promise<void> => {
    for (let n = i; !stopping; n++) {
      const inputs = sentences[n % sentences.length] ?? '';
      result.requests++;
      let outcome = '';
      const tried = new Set<string>();
      for (let attempt = 0; attempt < 3; attempt++) {
        // Round robin, but a retry goes to a server not tried yet, as Envoy's retry host predicate.
        const fresh = routed.filter((b) => !tried.has(b));
        const pool = fresh.length ? fresh : routed;
        const backend = pool[next++ % pool.length] as string;
        tried.add(backend);
        outcome = await post(`${backend}/models/bert`, inputs);
        if (outcome === '200' && backend === old.url && draining) result.servedWhileDraining++;
        if (!RETRIABLE.has(outcome)) break;
        result.retried++;
      }
      if (outcome !== '200') {
        result.failed++;
        failures[outcome] = (failures[outcome] ?? 0) + 1;
      }
    }
  };
  const clients = Array.from({ length: plan.concurrency }, (_, i) => client(i * 7));
  try {
    await new Promise((r) => setTimeout(r, plan.warmupS * 1000));
    const replacement = await start();
    routed.push(replacement.url);
    log(`rolling: ${replacement.url} ready and routed; SIGTERM to ${old.url}`);
    const exited = exitOf(old.child);
    const signalled = performance.now();
    draining = true;
    old.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, plan.propagationS * 1000));
    routed.splice(routed.indexOf(old.url), 1);
    const exitCode = await exited;
    const sigtermToExitS = (performance.now() - signalled) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    stopping = true;
    await Promise.all(clients);
    await replacement.stop();
    return { ...plan, ...result, failures, sigtermToExitS, exitCode };
  } finally {
    stopping = true;
    await old.stop();
  }
}
