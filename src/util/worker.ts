// Worker threads on a module beside the caller: run as JavaScript once built; as TypeScript under tsx
// in development, where the worker registers tsx itself before importing its entry (Node 20 does not
// apply --import hooks to a worker's entry).
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The URL of `./<name>.ts` or `./<name>.js` next to `callerUrl`, whichever the caller runs as. */
export const siblingModule = (callerUrl: string, name: string): URL =>
  new URL(`./${name}${extname(fileURLToPath(callerUrl))}`, callerUrl);

export function spawnWorker(entry: URL, options: WorkerOptions): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
