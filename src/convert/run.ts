// Runs a conversion in a worker thread of its own, which exits when it is done.
import { fromWire, ServeError, type WireError } from '../errors.ts';
import { siblingModule, spawnWorker } from '../util/worker.ts';
import type { ConversionJob, ConversionManifest } from './convert.ts';

export type ConversionReply =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; manifest: ConversionManifest }
  | { type: 'failed'; error: WireError };

const WORKER_URL = siblingModule(import.meta.url, 'worker');

/** Converts in a worker; `onProgress` hears the weight bytes written so far and in all. */
export function runConversion(
  job: ConversionJob,
  onProgress?: (done: number, total: number) => void,
): Promise<ConversionManifest> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorker(WORKER_URL, { workerData: job, name: 'hubserve:convert' });
    let settled = false;
    worker.on('message', (message: ConversionReply) => {
      if (message.type === 'progress') {
        onProgress?.(message.done, message.total);
        return;
      }
      settled = true;
      if (message.type === 'done') resolve(message.manifest);
      else reject(fromWire(message.error));
    });
    worker.once('error', (error) => {
      settled = true;
      reject(new ServeError('internal', `the conversion failed: ${error.message}`, {}, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!settled) {
        reject(new ServeError('internal', `the conversion's worker exited (code ${code}) without an answer`));
      }
    });
  });
}
