// The hubserve command in a child process, as an operator runs it: its JSON log lines on stdout, its
// exit code, signals. Bounded: a server that does not start in time is killed.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  [key: string]: unknown;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Log lines so far. */
  logs: LogLine[];
  /** Everything it printed that was not a JSON line (stderr included). */
  other: string[];
  /** Resolves with the exit code (or signal) once it ends. */
  exited: Promise<number | string>;
  /** Kills it if it still runs. */
  kill(): void;
}

/** Starts `hubserve serve ...args` on an ephemeral loopback port and waits until it listens. */
export async function spawnServer(
  args: string[],
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--host', '127.0.0.1', '--port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HUBSERVE_LOG_LEVEL: 'info', HUBSERVE_MANAGEMENT_PORT: '0', ...env },
    },
  );
  const logs: LogLine[] = [];
  const other: string[] = [];
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  let listening: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (listening = resolve));
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const parsed = JSON.parse(line) as LogLine;
        logs.push(parsed);
        const at = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(parsed.msg);
        if (at?.[1]) listening(at[1]);
      } catch {
        other.push(line);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => other.push(chunk));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const timer = setTimeout(kill, timeoutMs);
  const started = await Promise.race([url, exited.then((code) => ({ code }))]);
  clearTimeout(timer);
  if (typeof started !== 'string') {
    throw new Error(`hubserve exited (${started.code}) before listening:\n${other.join('\n')}`);
  }
  return { url: started, child, logs, other, exited, kill };
}
