// The main thread's handle on one loaded model: its worker threads (instances), requests dispatched
// to the least busy one, and failures contained (a dead worker fails its own requests with a clear
// error and is replaced; the rest of the server carries on).
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ServeError } from '../errors.ts';
import type { StreamedToken } from '../tasks/types.ts';
import type { Device, FromWorker, LoadSpec, ModelInfo, ToWorker, WireError } from './protocol.ts';

export { DEVICES, type Device, type ModelInfo } from './protocol.ts';

export interface EngineModelSpec {
  path: string;
  task: string;
  /** Absolute path of a custom handler module. */
  handler?: string;
  dtype: string;
  device: Device;
  /** Worker threads (each with its own copy of the weights). */
  instances: number;
  /** ONNX Runtime threads per worker; default: the cores shared out between instances. */
  threads?: number;
}

// Run as JavaScript once built; as TypeScript under tsx in development, where the worker registers
// tsx itself before importing its entry (Node 20 does not apply --import hooks to a worker's entry).
const WORKER_URL = new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

function spawnWorker(spec: LoadSpec): Worker {
  const options = { workerData: spec, name: `hubserve:${spec.task}` };
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, options);
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}

const fromWire = (error: WireError): ServeError => new ServeError(error.code, error.message, error.details);

interface Pending {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  onToken?: ((token: StreamedToken) => void) | undefined;
}

export interface RunOptions {
  /** Receive generated tokens as they come (text generation). */
  onToken?: (token: StreamedToken) => void;
  /** Abort: a generation stops at its next token. */
  signal?: AbortSignal;
}

class WorkerSlot {
  readonly pending = new Map<number, Pending>();
  private disposing = false;

  private constructor(
    readonly worker: Worker,
    readonly info: ModelInfo,
    onExit: (slot: WorkerSlot) => void,
  ) {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'token') return this.pending.get(message.id)?.onToken?.(message.token);
      if (message.type !== 'result' && message.type !== 'failed') return;
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'result') pending?.resolve(message.output);
      else pending?.reject(fromWire(message.error));
    });
    const died = (reason: string): void => {
      for (const p of this.pending.values()) {
        p.reject(new ServeError('worker_failed', `the model's worker stopped (${reason}); try again`));
      }
      this.pending.clear();
      if (!this.disposing) onExit(this);
    };
    worker.on('error', (error) => died(error.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
  }

  static start(spec: LoadSpec, onExit: (slot: WorkerSlot) => void): Promise<WorkerSlot> {
    const worker = spawnWorker(spec);
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new ServeError('model_load_failed', error.message));
      worker.once('error', failed);
      worker.once('message', (message: FromWorker) => {
        worker.off('error', failed);
        if (message.type === 'ready') resolve(new WorkerSlot(worker, message.info, onExit));
        else {
          void worker.terminate();
          const error = message.type === 'load-failed' ? fromWire(message.error) : new Error(message.type);
          reject(
            error instanceof ServeError && error.code !== 'internal'
              ? error
              : new ServeError('model_load_failed', error.message),
          );
        }
      });
    });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  async dispose(): Promise<void> {
    this.disposing = true;
    await new Promise<void>((resolve) => {
      const done = (message: FromWorker): void => {
        if (message.type === 'disposed') resolve();
      };
      this.worker.on('message', done);
      this.send({ type: 'dispose' });
      setTimeout(resolve, 5000).unref(); // a stuck worker is terminated anyway
    });
    await this.worker.terminate();
  }
}

export class ModelRunner {
  private slots: WorkerSlot[] = [];
  private nextId = 0;
  private disposed = false;

  private constructor(
    private readonly spec: LoadSpec,
    readonly instances: number,
  ) {}

  /** Loads and warms every instance; resolves once the model can take traffic. */
  static async start(model: EngineModelSpec): Promise<ModelRunner> {
    const threads = model.threads ?? Math.max(1, Math.floor(availableParallelism() / model.instances));
    const spec: LoadSpec = {
      path: model.path,
      task: model.task,
      dtype: model.dtype,
      device: model.device,
      threads,
      ...(model.handler ? { handler: model.handler } : {}),
    };
    const runner = new ModelRunner(spec, model.instances);
    const started = await Promise.allSettled(
      Array.from({ length: model.instances }, () => WorkerSlot.start(spec, (slot) => runner.replace(slot))),
    );
    runner.slots = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) {
      await Promise.all(runner.slots.map((slot) => slot.dispose()));
      throw failure.reason;
    }
    return runner;
  }

  get info(): ModelInfo {
    const [first] = this.slots;
    if (!first) throw new ServeError('model_not_ready', 'the model has no running worker');
    return first.info;
  }

  /** Workers able to take a request now. */
  get workers(): number {
    return this.slots.length;
  }

  /** Requests waiting or running in this model's workers. */
  get inFlight(): number {
    return this.slots.reduce((n, s) => n + s.pending.size, 0);
  }

  run(
    task: string,
    inputs: unknown,
    parameters: Record<string, unknown>,
    options: RunOptions = {},
  ): Promise<unknown> {
    const slot = this.slots.reduce<WorkerSlot | undefined>(
      (best, s) => (!best || s.pending.size < best.pending.size ? s : best),
      undefined,
    );
    if (!slot || this.disposed) {
      return Promise.reject(new ServeError('model_not_ready', 'the model is restarting; try again shortly'));
    }
    const id = this.nextId++;
    options.signal?.addEventListener('abort', () => slot.send({ type: 'cancel', id }), { once: true });
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, onToken: options.onToken });
      slot.send({ type: 'run', id, task, inputs, parameters, stream: options.onToken !== undefined });
    });
  }

  /** A worker died: take it out of rotation and start a replacement. */
  private replace(dead: WorkerSlot): void {
    this.slots = this.slots.filter((s) => s !== dead);
    if (this.disposed) return;
    WorkerSlot.start(this.spec, (slot) => this.replace(slot)).then(
      (slot) => (this.disposed ? void slot.dispose() : this.slots.push(slot)),
      () => undefined, // it loaded once; a failing reload leaves fewer instances, reported by /ready
    );
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((slot) => slot.dispose()));
  }
}
