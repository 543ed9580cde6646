// Download and conversion progress for people: bars on a terminal, plain lines in logs.
import cliProgress from 'cli-progress';
import type { ConversionProgress } from './converted.ts';
import type { DownloadProgress } from './download.ts';

/** Decimal units, as the Hub shows sizes: "1.2 MB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

type Output = NodeJS.WritableStream & { isTTY?: boolean };

/** An `onProgress` callback that draws a bar per file on a TTY, else logs a line per file start and end. */
export function progressReporter(stream: Output = process.stderr): (event: DownloadProgress) => void {
  return stream.isTTY === true ? bars(stream) : lines(stream);
}

function lines(stream: Output): (event: DownloadProgress) => void {
  return (event) => {
    const name = `${event.repo} ${event.file}`;
    if (event.type === 'start') stream.write(`downloading ${name} (${formatBytes(event.total)})\n`);
    if (event.type === 'done') stream.write(`downloaded ${name} in ${(event.ms / 1000).toFixed(1)} s\n`);
    if (event.type === 'failed') stream.write(`failed to download ${name}\n`);
  };
}

function bars(stream: Output): (event: DownloadProgress) => void {
  let multibar: cliProgress.MultiBar | undefined;
  const active = new Map<string, cliProgress.SingleBar>();
  return (event) => {
    const name = `${event.repo} ${event.file}`;
    if (event.type === 'start') {
      multibar ??= new cliProgress.MultiBar(
        { stream, format: '{bar} {percentage}% | {done} / {size} | {name}', barsize: 30, autopadding: true },
        cliProgress.Presets.shades_classic,
      );
      const payload = { name, done: formatBytes(0), size: formatBytes(event.total) };
      active.set(name, multibar.create(Math.max(event.total, 1), 0, payload));
      return;
    }
    const bar = active.get(name);
    if (!bar) return;
    if (event.type === 'bytes') {
      bar.update(event.done, { done: formatBytes(event.done) });
      return;
    }
    if (event.type === 'done') bar.update(bar.getTotal(), { done: formatBytes(event.total) });
    active.delete(name);
    // The multibar redraws on a timer, which would keep the process alive: stop it once all files end.
    if (active.size === 0) {
      multibar?.stop();
      multibar = undefined;
    }
  };
}

/** An `onConvert` callback: a bar on a TTY, else a line when a conversion starts and ends. */
export function conversionReporter(stream: Output = process.stderr): (event: ConversionProgress) => void {
  let bar: cliProgress.SingleBar | undefined;
  return (event) => {
    if (event.type === 'start') {
      stream.write(`converting ${event.source} to ONNX\n`);
    } else if (event.type === 'bytes' && stream.isTTY === true) {
      bar ??= new cliProgress.SingleBar(
        { stream, format: '{bar} {percentage}% | {done} / {size} | writing the graph', barsize: 30 },
        cliProgress.Presets.shades_classic,
      );
      if (!bar.isActive) bar.start(event.total, 0, { done: formatBytes(0), size: formatBytes(event.total) });
      bar.update(event.done, { done: formatBytes(event.done) });
    } else if (event.type === 'done') {
      bar?.stop();
      stream.write(`converted ${event.source} in ${(event.ms / 1000).toFixed(1)} s\n`);
    }
  };
}
