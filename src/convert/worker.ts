// The worker thread a conversion runs in: building and writing a graph is seconds of synchronous
// work that must not stall the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { toWire } from '../errors.ts';
import { convertFolder, type ConversionJob } from './convert.ts';
import type { ConversionReply } from './run.ts';

const reply = (message: ConversionReply): void => parentPort?.postMessage(message);

// Every 1% of the weights, at most: a bert-base writes ~200 tensors.
let reported = 0;
const progress = (done: number, total: number): void => {
  if (done - reported < total / 100 && done < total) return;
  reported = done;
  reply({ type: 'progress', done, total });
};

try {
  reply({ type: 'done', manifest: convertFolder(workerData as ConversionJob, progress) });
} catch (error) {
  reply({ type: 'failed', error: toWire(error) });
}
