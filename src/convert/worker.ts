// The worker thread a conversion runs in: building and writing a graph is seconds of synchronous
// work that must not stall the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { toWire } from '../errors.ts';
import { convertFolder, type ConversionJob } from './convert.ts';
import type { ConversionReply } from './run.ts';

const reply = (message: ConversionReply): void => parentPort?.postMessage(message);

try {
  reply({ type: 'done', manifest: convertFolder(workerData as ConversionJob) });
} catch (error) {
  reply({ type: 'failed', error: toWire(error) });
}
