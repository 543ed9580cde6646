// The memory budget: how many models, and how many bytes of them, may be loaded at once, and which
// loaded model makes room for another: the least recently used one that is idle (no request in
// flight, no session pinning it, not loading).

export interface MemoryBudget {
  max_loaded_models?: number | undefined;
  /** Resident bytes of the loaded models, as measured when each loaded. */
  max_bytes?: number | undefined;
  /** A model unused this long is unloaded (it loads again on its next request). */
  idle_unload_after_s?: number | undefined;
  /** How long a request waits for its model to load before 503 + Retry-After. */
  load_wait_s?: number | undefined;
}

/** The budget and what uses it, as GET /models and /metrics show it. */
export interface Budget {
  maxLoadedModels: number | undefined;
  maxBytes: number | undefined;
  loadedModels: number;
  loadedBytes: number;
}

export interface LoadedModel {
  id: string;
  bytes: number;
  lastUsed: number;
  evictable: boolean;
}

/**
 * Whether one more model (of `incomingBytes`, as far as known) fits beside `loaded`; if not, the
 * one to unload first, or 'full' when none may be.
 */
export function pickVictim(
  budget: MemoryBudget,
  loaded: readonly LoadedModel[],
  incomingBytes: number,
): 'fits' | 'full' | string {
  const bytes = loaded.reduce((n, m) => n + m.bytes, 0);
  const tooMany = budget.max_loaded_models !== undefined && loaded.length + 1 > budget.max_loaded_models;
  const tooLarge =
    budget.max_bytes !== undefined && loaded.length > 0 && bytes + incomingBytes > budget.max_bytes;
  if (!tooMany && !tooLarge) return 'fits';
  const idle = loaded.filter((m) => m.evictable).sort((a, b) => a.lastUsed - b.lastUsed);
  return idle[0]?.id ?? 'full';
}
