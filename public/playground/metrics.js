// Prometheus text exposition format, parsed in the browser, and per-model rates between two scrapes:
// requests per second, errors per second and latency (mean, p50 and p95 from the histogram buckets).

const REQUESTS = 'hubserve_requests_total';
const DURATION = 'hubserve_request_duration_seconds';

/** Label values in the exposition format escape backslash, double quote and newline. */
function unescapeLabel(value) {
  return value.replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
}

function parseValue(text) {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  return Number(text);
}

/** Parses the text format into samples `{name, labels, value}`; comments and bad lines are skipped. */
export function parsePrometheus(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!match) continue;
    const labels = {};
    const body = match[3] ?? '';
    const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
    let m;
    while (pair.lastIndex < body.length && (m = pair.exec(body))) labels[m[1]] = unescapeLabel(m[2]);
    samples.push({ name: match[1], labels, value: parseValue(match[4]) });
  }
  return samples;
}

const isSuccess = (status) => status === undefined || /^(2\d\d|ok|success)$/i.test(status);

/** What one scrape says per model: request counts by outcome, latency sum, count and buckets. */
export function summarize(samples) {
  const models = new Map();
  const of = (model) => {
    let m = models.get(model);
    if (!m) {
      m = { requests: 0, errors: 0, sum: 0, count: 0, buckets: new Map() };
      models.set(model, m);
    }
    return m;
  };
  for (const { name, labels, value } of samples) {
    if (!labels.model || !Number.isFinite(value)) continue;
    if (name === REQUESTS) {
      const m = of(labels.model);
      m.requests += value;
      if (!isSuccess(labels.status ?? labels.code)) m.errors += value;
    } else if (name === `${DURATION}_sum`) of(labels.model).sum += value;
    else if (name === `${DURATION}_count`) of(labels.model).count += value;
    else if (name === `${DURATION}_bucket` && labels.le !== undefined) {
      const m = of(labels.model);
      const le = parseValue(labels.le);
      m.buckets.set(le, (m.buckets.get(le) ?? 0) + value);
    }
  }
  return models;
}

/** The q-quantile of cumulative bucket counts, interpolated within its bucket (as histogram_quantile). */
export function quantile(q, buckets) {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound; // beyond the largest finite bucket: its bound is all we know
      const inBucket = count - lowerCount;
      return inBucket > 0 ? lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket : le;
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}

/**
 * Per-model rates between two summaries `seconds` apart: `{rps, errorsPerSecond, requests,
 * meanMs, p50Ms, p95Ms}`; latencies are undefined when no request finished in the interval.
 * A counter that went down (a restart) counts from zero.
 */
export function rates(previous, current, seconds) {
  const result = new Map();
  for (const [model, now] of current) {
    const before = previous.get(model);
    const reset = before && now.requests < before.requests;
    const base = before && !reset ? before : { requests: 0, errors: 0, sum: 0, count: 0, buckets: new Map() };
    const requests = now.requests - base.requests;
    const count = now.count - base.count;
    const buckets = new Map([...now.buckets].map(([le, c]) => [le, c - (base.buckets.get(le) ?? 0)]));
    const ms = (s) => (s === undefined ? undefined : s * 1000);
    result.set(model, {
      requests,
      rps: seconds > 0 ? requests / seconds : 0,
      errorsPerSecond: seconds > 0 ? (now.errors - base.errors) / seconds : 0,
      meanMs: count > 0 ? ms((now.sum - base.sum) / count) : undefined,
      p50Ms: count > 0 ? ms(quantile(0.5, buckets)) : undefined,
      p95Ms: count > 0 ? ms(quantile(0.95, buckets)) : undefined,
    });
  }
  return result;
}
