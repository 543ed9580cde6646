// The README's curl examples work as written: each command of the demo section is run with curl
// against a server started from config/demo.yaml, and its output is checked against the "# ->" line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { ensureTestModels } from '../../tools/testmodels/index.ts';
import { serve, type TestServer } from '../support/server.ts';

const run = promisify(execFile);

interface Example {
  command: string;
  expected?: string;
}

/** The curl commands of the README's demo section, with the output each is documented to give. */
function examples(): Example[] {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.split('## The API, with the demo models')[1]?.split('\n## ')[0] ?? '';
  const block = section.split('```sh')[1]?.split('```')[0] ?? '';
  const found: Example[] = [];
  let pending = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('# -> ')) {
      const last = found.at(-1);
      if (last) last.expected = line.slice(5);
    } else if (line.startsWith('curl') || pending) {
      pending += line.replace(/\\$/, ' ');
      if (!line.endsWith('\\')) {
        found.push({ command: pending });
        pending = '';
      }
    }
  }
  return found;
}

let server: TestServer;
before(async () => {
  ensureTestModels();
  const demo = loadConfig({ file: 'config/demo.yaml', env: {} });
  server = await serve(demo.models);
});
after(() => server.close());

it('runs every curl example of the README as written', async () => {
  const list = examples();
  assert.ok(list.length >= 8, `${list.length} examples found`);
  const port = new URL(server.url).port;
  for (const { command, expected } of list) {
    assert.ok(command.includes('localhost:8080'), command);
    // Asynchronously: the server answering curl lives in this process.
    const { stdout: output } = await run('bash', [
      '-c',
      command.replaceAll('localhost:8080', `127.0.0.1:${port}`),
    ]);
    assert.doesNotMatch(output, /"error"/, `${command}\n${output}`);
    assert.ok(expected, `no "# ->" line after ${command}`);
    // The documented output, with "..." standing for what is left out.
    let at = 0;
    for (const part of (expected ?? '').split('...').filter(Boolean)) {
      const found = output.indexOf(part, at);
      assert.ok(found >= 0, `${command}\n  documented: ${expected}\n  got:        ${output}`);
      at = found + part.length;
    }
  }
});
