// Reporters of sweep results: a Markdown table (aligned the way Prettier writes one, so it reads as is
// in a terminal and in docs), JSON, and a hand-written SVG chart of latency and throughput.
import type { DeviceOutcome } from './devices.ts';
import type { SweepResult } from './sweep.ts';

export type Align = 'left' | 'right';

/** A Markdown table with padded columns, in Prettier's layout. */
export function markdownTable(header: string[], rows: string[][], align: Align[] = []): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number): string =>
    align[i] === 'right' ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
  const line = (cells: string[]): string =>
    `| ${header.map((_, i) => cell(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = widths.map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** A number for a table: `digits` decimals, or a dash where there is none (no successful request). */
export const fixed = (value: number | undefined, digits = 1): string =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);

/** One row per concurrency level: counts, throughput, latency percentiles and /health p99. */
export function sweepTable(result: SweepResult): string {
  const header = [
    'concurrency',
    'requests',
    'errors',
    'req/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'mean ms',
    '/health p99 ms',
  ];
  const rows = result.levels.map((l) => [
    String(l.concurrency),
    String(l.requests),
    l.errors === 0
      ? '0'
      : `${l.errors} (${Object.entries(l.errorsBy)
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ')})`,
    fixed(l.throughput),
    fixed(l.latencyMs.p50),
    fixed(l.latencyMs.p90),
    fixed(l.latencyMs.p99),
    fixed(l.latencyMs.max),
    fixed(l.latencyMs.mean),
    fixed(l.health?.latencyMs.p99, 2),
  ]);
  return markdownTable(header, rows, ['right', 'right', 'left', ...Array<Align>(7).fill('right')]);
}

/** The sweep as JSON: every figure, errors by cause included. */
export function sweepJson(result: SweepResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

export interface ChartSeries {
  name: string;
  result: SweepResult;
}

/** A horizontal reference line: the in-process limit's throughput, or its single-sentence latency. */
export interface ChartReference {
  panel: 'latency' | 'throughput';
  label: string;
  value: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const PERCENTILES = [
  { key: 'p50', dash: '' },
  { key: 'p90', dash: '7 4' },
  { key: 'p99', dash: '2 3' },
] as const;

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const num = (n: number): string => String(Math.round(n * 10) / 10);

/** Ticks 1, 2, 5 x 10^k covering [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo && t <= hi) ticks.push(t);
    }
  }
  return ticks;
}

/** About five round ticks from 0 to hi. */
function linearTicks(hi: number): number[] {
  const raw = hi / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  return Array.from({ length: Math.floor(hi / step) + 1 }, (_, i) => i * step);
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Two panels against concurrency (log2 axis): latency p50 / p90 / p99 (log axis, ms) and throughput
 * (req/s), one colour per series; references drawn as grey dashed lines.
 */
export function sweepSvg(
  series: ChartSeries[],
  options: { title?: string; references?: ChartReference[] } = {},
): string {
  const references = options.references ?? [];
  const width = 980;
  const height = 440;
  const panels: Record<'latency' | 'throughput', Panel> = {
    latency: { x: 70, y: 64, w: 380, h: 290 },
    throughput: { x: 570, y: 64, w: 380, h: 290 },
  };
  const levels = series.flatMap((s) => s.result.levels);
  const concurrencies = [...new Set(levels.map((l) => l.concurrency))].sort((a, b) => a - b);
  const cMin = concurrencies[0] ?? 1;
  const cMax = Math.max(concurrencies[concurrencies.length - 1] ?? 1, cMin * 2);
  const xOf = (p: Panel, c: number): number => p.x + (Math.log2(c / cMin) / Math.log2(cMax / cMin)) * p.w;

  const latencies = [
    ...levels.flatMap((l) => [l.latencyMs.p50, l.latencyMs.p90, l.latencyMs.p99]),
    ...references.filter((r) => r.panel === 'latency').map((r) => r.value),
  ].filter((v) => Number.isFinite(v) && v > 0);
  const lo = (latencies.length ? Math.min(...latencies) : 1) * 0.8;
  const hi = (latencies.length ? Math.max(...latencies) : 10) * 1.25;
  const yLatency = (v: number): number =>
    panels.latency.y + panels.latency.h - (Math.log10(v / lo) / Math.log10(hi / lo)) * panels.latency.h;
  const tMax =
    Math.max(
      1,
      ...levels.map((l) => l.throughput),
      ...references.filter((r) => r.panel === 'throughput').map((r) => r.value),
    ) * 1.15;
  const yThroughput = (v: number): number =>
    panels.throughput.y + panels.throughput.h - (v / tMax) * panels.throughput.h;
  const yOf = { latency: yLatency, throughput: yThroughput };

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (options.title) {
    out.push(
      `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
    );
  }

  const axes = (name: 'latency' | 'throughput', label: string, ticks: number[]): void => {
    const p = panels[name];
    out.push(`<g class="axes" data-panel="${name}">`);
    for (const t of ticks) {
      const y = num(yOf[name](t));
      out.push(`<line x1="${p.x}" y1="${y}" x2="${p.x + p.w}" y2="${y}" stroke="#e5e5e5"/>`);
      out.push(`<text x="${p.x - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
    }
    for (const c of concurrencies) {
      const x = num(xOf(p, c));
      out.push(`<line x1="${x}" y1="${p.y}" x2="${x}" y2="${p.y + p.h}" stroke="#f0f0f0"/>`);
      out.push(`<text x="${x}" y="${p.y + p.h + 16}" text-anchor="middle">${c}</text>`);
    }
    out.push(
      `<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" fill="none" stroke="#333333"/>`,
      `<text x="${p.x + p.w / 2}" y="${p.y + p.h + 34}" text-anchor="middle">concurrency</text>`,
      `<text x="${p.x + p.w / 2}" y="${p.y - 10}" text-anchor="middle" font-weight="bold">${escapeXml(label)}</text>`,
      '</g>',
    );
  };
  axes('latency', 'latency (ms, log scale)', logTicks(lo, hi));
  axes('throughput', 'throughput (requests/s)', linearTicks(tMax));

  for (const r of references) {
    const p = panels[r.panel];
    const y = num(yOf[r.panel](r.value));
    out.push(
      `<g class="reference" data-series="${escapeXml(r.label)}">`,
      `<line x1="${p.x}" y1="${y}" x2="${p.x + p.w}" y2="${y}" stroke="#777777" stroke-dasharray="5 4"/>`,
      `<text x="${p.x + 4}" y="${Number(y) - 4}" fill="#555555">${escapeXml(r.label)}</text>`,
      '</g>',
    );
  }

  const polyline = (label: string, color: string, dash: string, points: [number, number][]): void => {
    if (points.length === 0) return;
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : '';
    out.push(
      `<g class="series" data-series="${escapeXml(label)}"><title>${escapeXml(label)}</title>`,
      `<polyline fill="none" stroke="${color}" stroke-width="2"${dashAttr} points="${points.map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}"/>`,
      ...points.map(([x, y]) => `<circle cx="${num(x)}" cy="${num(y)}" r="2.5" fill="${color}"/>`),
      '</g>',
    );
  };
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000000';
    for (const { key, dash } of PERCENTILES) {
      const points = s.result.levels
        .filter((l) => Number.isFinite(l.latencyMs[key]) && l.latencyMs[key] > 0)
        .map((l): [number, number] => [xOf(panels.latency, l.concurrency), yLatency(l.latencyMs[key])]);
      polyline(`${s.name} ${key}`, color, dash, points);
    }
    const points = s.result.levels.map((l): [number, number] => [
      xOf(panels.throughput, l.concurrency),
      yThroughput(l.throughput),
    ]);
    polyline(`${s.name} throughput`, color, '', points);
  });

  // Legend: a colour per series, a dash pattern per percentile.
  let x = 70;
  const y = height - 28;
  out.push('<g class="legend">');
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000000';
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${x + 30}" y="${y}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
    x += 40 + s.name.length * 7;
  });
  for (const { key, dash } of PERCENTILES) {
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : '';
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="#333333" stroke-width="2"${dashAttr}/>`,
      `<text x="${x + 30}" y="${y}" dominant-baseline="middle">${key}</text>`,
    );
    x += 64;
  }
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}

/** Per device and level: throughput and latency; then, for each device it could not use, why. */
export function deviceTable(outcomes: DeviceOutcome[]): string {
  const rows = outcomes.flatMap((o) =>
    o.available
      ? o.sweep.levels.map((l) => [
          o.device,
          String(l.concurrency),
          fixed(l.throughput),
          fixed(l.latencyMs.p50),
          fixed(l.latencyMs.p99),
          String(l.errors),
        ])
      : [[o.device, 'unavailable', '–', '–', '–', '–']],
  );
  const table = markdownTable(['device', 'concurrency', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rows, [
    'left',
    'right',
    'right',
    'right',
    'right',
    'right',
  ]);
  const reasons = outcomes.flatMap((o) => (o.available ? [] : [`- ${o.device}: ${o.reason}`]));
  return reasons.length ? `${table}\n\n${reasons.join('\n')}` : table;
}
