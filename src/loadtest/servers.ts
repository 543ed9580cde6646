// Servers under test as child processes on free loopback ports: started, awaited until they answer,
// and always stopped (also when the benchmark fails or is interrupted).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();
let handlersInstalled = false;

/**
 * Kills every child still running when this process exits, throws, or gets SIGINT / SIGTERM. Call it
 * once from an entry point (a library should not take over the process's signals by itself).
 */
export function stopChildrenOnExit(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping ${live.size} child process(es)`);
      process.exit(code);
    });
  }
}

/** Puts `child` among those killed on exit (see stopChildrenOnExit) until it exits by itself. */
export function trackChild<T extends ChildProcess>(child: T): T {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** `node` arguments running `entry`: TypeScript sources through tsx, built JavaScript as is. */
export function nodeArgs(entry: URL, args: string[] = []): string[] {
  const file = fileURLToPath(entry);
  return file.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), file, ...args] : [file, ...args];
}

/** The hubserve CLI this module belongs to: src/cli/main.ts under tsx, dist/cli/main.js once built. */
export const HUBSERVE_MAIN = new URL(
  `../cli/main${fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

export interface ChildServer {
  /** http://127.0.0.1:PORT */
  url: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** For messages. */
  name: string;
  /** `node` arguments (see nodeArgs); the port is the caller's to pass. */
  args: string[];
  port: number;
  /** Polled with GET until `isReady` says so. */
  readyPath: string;
  isReady?: (status: number, body: string) => boolean;
  timeoutMs?: number;
  /** Environment variables added to this process's. */
  env?: Record<string, string>;
}

/** Starts `node ...args` and resolves once GET readyPath satisfies isReady (default: status 200). */
export async function startChildServer(options: StartOptions): Promise<ChildServer> {
  const url = `http://127.0.0.1:${options.port}`;
  const child = trackChild(
    spawn(process.execPath, options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    }),
  );
  // The last 64 KiB of its output, to say why it did not start.
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: ChildServer = {
    url,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };

  const isReady = options.isReady ?? ((status: number) => status === 200);
  const deadline = performance.now() + (options.timeoutMs ?? 180_000);
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${options.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`,
      );
    }
    try {
      const response = await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(2000) });
      if (isReady(response.status, await response.text())) return server;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await server.stop();
  throw new Error(`${options.name} was not ready after ${options.timeoutMs ?? 180_000} ms:\n${output}`);
}

/**
 * `hubserve serve` with the given arguments (models, flags) on `port`, as a child process; its
 * management API on a port of its own choosing, so that several can run at once.
 */
export function hubserveArgs(port: number, serveArgs: string[]): string[] {
  return nodeArgs(HUBSERVE_MAIN, [
    'serve',
    ...serveArgs,
    '--port',
    String(port),
    '--management-port',
    '0',
    '--log-level',
    'warn',
  ]);
}
