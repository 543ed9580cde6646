// The soak: minutes of steady, mixed load on one hubserve (classification, NER, streamed chat, and bad
// requests), its resident memory read from its own /metrics every few seconds. A leak shows as memory
// that keeps growing with the requests served once warm-up is over: the slope is reported per 1,000.

export interface SoakSample {
  /** Seconds since the load began. */
  s: number;
  requests: number;
  rssMiB: number;
}

export interface SoakResult {
  durationS: number;
  warmupS: number;
  concurrency: number;
  requests: number;
  /** Answers other than the expected one (200, or 400 for the deliberately bad requests). */
  unexpected: number;
  rssAfterWarmupMiB: number;
  rssEndMiB: number;
  rssPeakMiB: number;
  /** Least-squares slope of resident memory against requests served, after warm-up. */
  growthKiBPer1000: number;
  samples: SoakSample[];
}

export interface SoakPlan {
  durationS: number;
  warmupS: number;
  concurrency: number;
  sentences: readonly string[];
}

/** The i-th request of the mix, and the status it must get. */
function request(
  url: string,
  i: number,
  sentences: readonly string[],
): { send: () => Promise<Response>; expect: number } {
  const text = sentences[i % sentences.length] ?? 'hello';
  const post = (path: string, body: unknown) => () =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const kind = i % 20;
  if (kind === 19) return { send: post('/models/sentiment', { inputs: 5 }), expect: 400 };
  if (kind >= 17) {
    const chat = { model: 'gpt2', messages: [{ role: 'user', content: text }], max_tokens: 16, stream: true };
    return { send: post('/v1/chat/completions', chat), expect: 200 };
  }
  if (kind >= 14) return { send: post('/models/ner', { inputs: text }), expect: 200 };
  return { send: post('/models/sentiment', { inputs: text }), expect: 200 };
}

async function residentMiB(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('hubserve_process_resident_memory_bytes '));
  return Number(line?.split(' ')[1]) / 2 ** 20;
}

/** Slope of y against x by least squares. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** Runs the soak against a hubserve serving `sentiment`, `ner` and `gpt2`. */
export async function runSoak(
  url: string,
  plan: SoakPlan,
  onStatus: (line: string) => void,
): Promise<SoakResult> {
  const started = performance.now();
  const elapsedS = (): number => (performance.now() - started) / 1000;
  let next = 0;
  let requests = 0;
  let unexpected = 0;
  const samples: SoakSample[] = [];
  const client = async (): Promise<void> => {
    while (elapsedS() < plan.durationS) {
      const { send, expect } = request(url, next++, plan.sentences);
      try {
        const response = await send();
        await response.arrayBuffer(); // the whole answer, streams included
        if (response.status !== expect) unexpected++;
      } catch {
        unexpected++;
      }
      requests++;
    }
  };
  const sampler = setInterval(() => {
    const at = { s: elapsedS(), requests };
    residentMiB(url).then(
      (rssMiB) => {
        samples.push({ ...at, rssMiB });
        if (samples.length % 10 === 0)
          onStatus(`soak: ${requests} requests, ${rssMiB.toFixed(1)} MiB resident`);
      },
      () => undefined, // a sample missed under load is no failure of the server
    );
  }, 2_000);
  await Promise.all(Array.from({ length: plan.concurrency }, client));
  clearInterval(sampler);
  samples.push({ s: elapsedS(), requests, rssMiB: await residentMiB(url) });
  const settled = samples.filter((p) => p.s >= plan.warmupS);
  const perRequestMiB = slope(settled.map((p) => ({ x: p.requests, y: p.rssMiB })));
  return {
    durationS: plan.durationS,
    warmupS: plan.warmupS,
    concurrency: plan.concurrency,
    requests,
    unexpected,
    rssAfterWarmupMiB: settled[0]?.rssMiB ?? Number.NaN,
    rssEndMiB: samples.at(-1)?.rssMiB ?? Number.NaN,
    rssPeakMiB: Math.max(...samples.map((p) => p.rssMiB)),
    growthKiBPer1000: perRequestMiB * 1024 * 1000,
    samples,
  };
}
