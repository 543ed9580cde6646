// The churn: a model per user, more users than the memory budget holds. 50 per-user models (copies of
// the generated sentiment model, as fine-tuned copies would be) load on demand under a budget of 8
// loaded; users arrive at random, most often the few active ones (Zipf), a request each. Reported:
// cold (the user's model had to load) and warm latency, loads and evictions, peak resident memory
// against the budget, and failed requests.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type LatencySummary, summarize } from '../src/loadtest/stats.ts';
import { rng } from '../tools/testmodels/random.ts';

export interface ChurnResult {
  users: number;
  maxLoaded: number;
  requests: number;
  concurrency: number;
  failed: number;
  coldMs: LatencySummary;
  warmMs: LatencySummary;
  loads: number;
  evictions: number;
  /** Resident memory with one model loaded, and at its peak during the churn. */
  baselineMiB: number;
  peakMiB: number;
  /** Measured resident size of one model (the largest of the loaded ones), for "budget + one model". */
  modelMiB: number;
}

export interface ChurnPlan {
  users: number;
  maxLoaded: number;
  requests: number;
  concurrency: number;
}

/**
 * The per-user model folders (made once: user-0 ... user-N-1, each a copy of `template`) and a
 * hubserve config serving them on demand under the budget; answers the config file's path.
 */
export function churnConfig(template: string, root: string, plan: ChurnPlan): string {
  const models = Array.from({ length: plan.users }, (_, i) => {
    const folder = join(root, `user-${i}`);
    if (!existsSync(join(folder, 'config.json'))) {
      mkdirSync(folder, { recursive: true });
      cpSync(template, folder, { recursive: true });
    }
    return { name: `user-${i}`, source: folder, load: 'on_demand' };
  });
  const file = join(root, 'hubserve.yaml');
  writeFileSync(file, stringify({ models, memory: { max_loaded_models: plan.maxLoaded, load_wait_s: 60 } }));
  return file;
}

/** User indices, Zipf-distributed (user 0 the most active). */
function arrivals(users: number, count: number): number[] {
  const weights = Array.from({ length: users }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const next = rng(42); // seeded: two runs send the same users in the same order
  return Array.from({ length: count }, () => {
    let r = next() * total;
    for (let i = 0; i < users; i++) {
      r -= weights[i] ?? 0;
      if (r <= 0) return i;
    }
    return users - 1;
  });
}

interface Listed {
  name: string;
  state: string;
  loads: number;
  resident_bytes?: number;
}

const listed = async (url: string): Promise<Listed[]> =>
  ((await (await fetch(`${url}/models`)).json()) as { models: Listed[] }).models;

async function residentMiB(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('hubserve_process_resident_memory_bytes '));
  return Number(line?.split(' ')[1]) / 2 ** 20;
}

/** Runs the churn against a hubserve serving `user-0` ... as on-demand models under the budget. */
export async function runChurn(
  url: string,
  plan: ChurnPlan,
  onStatus: (line: string) => void,
): Promise<ChurnResult> {
  const order = arrivals(plan.users, plan.requests);
  const send = (user: number) =>
    fetch(`${url}/models/user-${user}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: 'I love this wonderful film' }),
    });
  // One model loaded first: the baseline the budget's use is measured against.
  await (await send(0)).arrayBuffer();
  const baselineMiB = await residentMiB(url);
  let peakMiB = baselineMiB;
  const sampler = setInterval(() => {
    residentMiB(url).then(
      (mib) => (peakMiB = Math.max(peakMiB, mib)),
      () => undefined,
    );
  }, 250);
  const cold: number[] = [];
  const warm: number[] = [];
  let failed = 0;
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < order.length) {
      const user = order[next++] ?? 0;
      const before = (await listed(url)).find((m) => m.name === `user-${user}`)?.state;
      const started = performance.now();
      const response = await send(user);
      await response.arrayBuffer();
      const ms = performance.now() - started;
      if (response.status !== 200) failed++;
      else (before === 'ready' ? warm : cold).push(ms);
      if ((cold.length + warm.length) % 200 === 0) onStatus(`churn: ${cold.length + warm.length} answered`);
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, client));
  clearInterval(sampler);
  peakMiB = Math.max(peakMiB, await residentMiB(url));
  const models = await listed(url);
  const loads = models.reduce((n, m) => n + m.loads, 0);
  const distinct = models.filter((m) => m.loads > 0).length;
  const sizes = models.map((m) => m.resident_bytes ?? 0);
  return {
    users: plan.users,
    maxLoaded: plan.maxLoaded,
    requests: plan.requests,
    concurrency: plan.concurrency,
    failed,
    coldMs: summarize(cold),
    warmMs: summarize(warm),
    loads,
    evictions: loads - distinct,
    baselineMiB,
    peakMiB,
    modelMiB: Math.max(...sizes) / 2 ** 20,
  };
}
