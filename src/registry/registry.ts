// The served models: each configured model's lifecycle (resolving its source, loading, ready or
// failed with its reason) and the one place requests reach a model by name. A model that fails does
// not stop the others.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelConfigEntry } from '../config/schema.ts';
import { ModelRunner, type ModelInfo, type RunnerStats } from '../engine/runner.ts';
import {
  DEFAULT_BATCHING,
  Scheduler,
  type SchedulerStats,
  type SubmitOptions,
} from '../scheduler/scheduler.ts';
import { isServeError, ServeError } from '../errors.ts';
import { type DownloadProgress, type HubSettings, resolveModel, type ResolvedModel } from '../hub/index.ts';
import { loadHandler } from '../tasks/handler.ts';
import { checkLimits, type RequestLimits } from './limits.ts';
import { compatibleTasks, inferTask, type ModelConfig, type TaskDefinition } from '../tasks/index.ts';

export type { SubmitOptions as RunOptions, RunReport } from '../scheduler/scheduler.ts';

export type ModelState = 'resolving' | 'loading' | 'ready' | 'failed';

export interface ServedModel {
  name: string;
  source: string;
  state: ModelState;
  /** What it is deployed for (a built-in task or its handler's); known once its config.json is read. */
  task?: string;
  /** The tasks requests may ask of it (the deployed one and those of the same model class). */
  tasks: string[];
  /** Path of its custom handler module, if it has one. */
  handler?: string;
  dtype: string;
  device: string;
  instances: number;
  revision?: string;
  commit?: string;
  info?: ModelInfo;
  error?: { code: string; message: string };
}

interface Entry {
  view: ServedModel;
  runner?: ModelRunner;
  scheduler?: Scheduler;
  /** Definitions of view.tasks, the deployed task first. */
  definitions: TaskDefinition[];
}

/** A model that can take requests, with what it can do. */
export type ReadyModel = ServedModel & { task: string; definitions: TaskDefinition[] };

export interface RegistryOptions {
  hub: HubSettings;
  /** Folders local model sources must be inside; absent: any. */
  localRoots?: readonly string[] | undefined;
  /** What one request may ask, below the tasks' own bounds. */
  limits?: RequestLimits | undefined;
  onProgress?: (event: DownloadProgress) => void;
}

export class Registry {
  private readonly entries = new Map<string, Entry>();
  private draining = false;

  constructor(private readonly options: RegistryOptions) {}

  /** Resolves, loads and warms a model; on failure it stays listed as failed with the reason. */
  async add(model: ModelConfigEntry): Promise<ServedModel> {
    if (this.entries.has(model.name))
      throw new ServeError('invalid_config', `a model is already named ${model.name}`);
    const view: ServedModel = {
      name: model.name,
      source: model.source,
      state: 'resolving',
      tasks: [],
      dtype: model.dtype ?? 'fp32',
      device: model.device ?? 'cpu',
      instances: model.instances ?? 1,
    };
    const entry: Entry = { view, definitions: [] };
    this.entries.set(model.name, entry);
    try {
      const resolved = await resolveModel(model.source, {
        dtype: view.dtype,
        settings: this.options.hub,
        onProgress: this.options.onProgress,
        localRoots: this.options.localRoots,
      });
      Object.assign(view, { revision: resolved.revision, commit: resolved.commit });
      const handler = model.handler === undefined ? undefined : resolve(model.handler);
      entry.definitions = handler
        ? [await loadHandler(handler)]
        : compatibleTasks(model.task ?? inferTask(readConfig(resolved)));
      const [deployed] = entry.definitions as [TaskDefinition];
      Object.assign(view, {
        task: deployed.name,
        tasks: entry.definitions.map((d) => d.name),
        handler,
        state: 'loading',
      });
      entry.runner = await ModelRunner.start({
        path: resolved.path,
        task: deployed.name,
        dtype: view.dtype,
        device: model.device ?? 'cpu',
        instances: view.instances,
        ...(model.threads ? { threads: model.threads } : {}),
        ...(model.hang_timeout_s ? { hangTimeoutMs: model.hang_timeout_s * 1000 } : {}),
        ...(model.max_worker_heap_mb ? { maxWorkerHeapBytes: model.max_worker_heap_mb * 2 ** 20 } : {}),
        ...(handler ? { handler } : {}),
      });
      const runner = entry.runner;
      entry.scheduler = new Scheduler(
        (task, inputs, parameters, options) => runner.run(task, inputs, parameters, options),
        () => runner.workers,
        { ...DEFAULT_BATCHING, ...model.batching },
      );
      const scheduler = entry.scheduler;
      runner.onWorkersChanged = () => scheduler.wake();
      Object.assign(view, { state: 'ready', info: entry.runner.info });
    } catch (error) {
      const failure = isServeError(error) ? error : new ServeError('model_load_failed', String(error));
      Object.assign(view, { state: 'failed', error: { code: failure.code, message: failure.message } });
    }
    return view;
  }

  list(): ServedModel[] {
    return [...this.entries.values()].map((e) => e.view);
  }

  /** The model's queue and batches so far (absent until it is loaded). */
  queue(name: string): SchedulerStats | undefined {
    return this.entries.get(name)?.scheduler?.stats;
  }

  /** The model's workers: their memory and restarts (absent until it is loaded). */
  workers(name: string): RunnerStats | undefined {
    return this.entries.get(name)?.runner?.stats;
  }

  get(name: string): ServedModel {
    const entry = this.entries.get(name);
    if (!entry) {
      const known = [...this.entries.keys()];
      throw new ServeError('model_not_found', `no model named "${name}" is served`, { models: known });
    }
    return entry.view;
  }

  /** A model that can take requests now (else model_not_ready, 503, with its state and reason). */
  ready(name: string): ReadyModel {
    const view = this.get(name);
    const entry = this.entries.get(name);
    if (view.state !== 'ready' || !view.task || !entry) {
      const why = view.error ? `: ${view.error.message}` : '';
      throw new ServeError('model_not_ready', `model "${name}" is ${view.state}${why}`, {
        state: view.state,
      });
    }
    return { ...view, task: view.task, definitions: entry.definitions };
  }

  /** Every model is warm (and there is at least one), and the server is not draining. */
  get allReady(): boolean {
    return !this.draining && this.entries.size > 0 && this.list().every((m) => m.state === 'ready');
  }

  /** Queues a request for the model's workers (batched with others where the task allows). */
  run(
    name: string,
    task: string,
    inputs: unknown,
    parameters: Record<string, unknown>,
    options: SubmitOptions = {},
  ): Promise<unknown> {
    const view = this.ready(name);
    const definition = view.definitions.find((d) => d.name === task);
    const scheduler = this.entries.get(name)?.scheduler;
    if (!definition) {
      throw new ServeError('task_not_supported', `model "${name}" does ${view.task}; it cannot do ${task}`, {
        tasks: view.tasks,
      });
    }
    if (!scheduler) throw new ServeError('model_not_ready', `model "${name}" has no running worker`);
    if (this.options.limits) checkLimits(this.options.limits, inputs, parameters);
    return scheduler.submit(definition, inputs, parameters, options);
  }

  /** Readiness goes down (load balancers stop sending) while what is in flight goes on. */
  drain(): void {
    this.draining = true;
  }

  /** Stops every model taking work: what waits or runs fails with `error`. */
  close(error: ServeError): void {
    for (const entry of this.entries.values()) entry.scheduler?.close(error);
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.runner?.dispose()));
    this.entries.clear();
  }
}

function readConfig(resolved: ResolvedModel): ModelConfig {
  return JSON.parse(readFileSync(join(resolved.path, 'config.json'), 'utf8')) as ModelConfig;
}
