// What the /v1 route plugins are given (a module of its own, so that they need not import their parent).
import type { Registry } from '../../registry/registry.ts';

export interface OpenAIRoutesOptions {
  registry: Registry;
}
