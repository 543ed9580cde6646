// Custom handlers: a module that gives a model its own logic, as preprocess -> infer -> postprocess
// (and an optional warm-up). A handler is a task of its own: the same schemas and contract.
import { pathToFileURL } from 'node:url';
import type { Static, TSchema } from 'typebox';
import { ServeError } from '../errors.ts';
import type { ModelContext, TaskDefinition } from './types.ts';

/** A task whose run is split in three: what a handler module writes. */
export interface Handler<I extends TSchema, P extends TSchema, O extends TSchema, Item, Raw> extends Omit<
  TaskDefinition<I, P, O>,
  'run' | 'splittable' | 'offsets'
> {
  /** Request -> the items the model runs on. */
  preprocess(inputs: Static<I>, parameters: Static<P>, model: ModelContext): Item[] | Promise<Item[]>;
  /** Items -> raw model results, in one batch. */
  infer(model: ModelContext, items: Item[], parameters: Static<P>): Promise<Raw>;
  /** Raw results -> the answer. */
  postprocess(raw: Raw, items: Item[], inputs: Static<I>, parameters: Static<P>): Static<O>;
}

export function defineHandler<I extends TSchema, P extends TSchema, O extends TSchema, Item, Raw>(
  handler: Handler<I, P, O, Item, Raw>,
): TaskDefinition<I, P, O> {
  const { preprocess, infer, postprocess, ...task } = handler;
  return {
    ...task,
    splittable: false,
    async run(model, inputs, parameters) {
      const items = await preprocess(inputs, parameters, model);
      return postprocess(await infer(model, items, parameters), items, inputs, parameters);
    },
  };
}

/** Loads a handler module (its default export, made with defineHandler). */
export async function loadHandler(path: string): Promise<TaskDefinition> {
  let module: { default?: Partial<TaskDefinition> };
  try {
    module = (await import(pathToFileURL(path).href)) as typeof module;
  } catch (error) {
    throw new ServeError('invalid_config', `handler ${path} cannot be loaded: ${(error as Error).message}`);
  }
  const handler = module.default;
  const missing = (['name', 'modelClass', 'inputs', 'parameters', 'example', 'run'] as const).filter(
    (key) => handler?.[key] === undefined,
  );
  if (!handler || missing.length) {
    throw new ServeError(
      'invalid_config',
      `handler ${path} must export default defineHandler({...}); missing: ${missing.join(', ')}`,
    );
  }
  return handler as TaskDefinition;
}
