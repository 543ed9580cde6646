// Messages between a model's main-thread runner and its worker threads.
import type { ErrorCode } from '../errors.ts';
import type { StreamedToken, RunMeter } from '../tasks/types.ts';

export const DEVICES = ['cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];

export interface LoadSpec {
  /** Local folder in the Hub layout. */
  path: string;
  /** A built-in task, or the name of the handler's task. */
  task: string;
  /** Absolute path of a custom handler module. */
  handler?: string;
  dtype: string;
  device: Device;
  /** ONNX Runtime intra-op threads of this worker. */
  threads: number;
}

/** What a loaded model tells about itself. */
export interface ModelInfo {
  task: string;
  modelType: string;
  architectures: string[];
  labels: string[];
  maxTokens: number;
  dtype: string;
  device: Device;
  loadMs: number;
  warmupMs: number;
}

export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export type ToWorker =
  | {
      type: 'run';
      id: number;
      task: string;
      inputs: unknown;
      parameters: Record<string, unknown>;
      stream: boolean;
    }
  | { type: 'cancel'; id: number }
  | { type: 'ping' }
  | { type: 'dispose' };

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'load-failed'; error: WireError }
  | { type: 'result'; id: number; output: unknown; meter: RunMeter }
  | { type: 'token'; id: number; token: StreamedToken }
  /** The worker's event loop answers (inference runs off it, so it answers while models run). */
  | { type: 'pong'; heapBytes: number }
  | { type: 'failed'; id: number; error: WireError }
  | { type: 'disposed' };
