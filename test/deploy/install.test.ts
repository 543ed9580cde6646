// A fresh clone installs quietly: `npm ci` has no engine to complain of, no project config it does
// not know, and no dependency install script left undecided; and every Node version package.json
// promises satisfies every installed package's own engines, not only the one running here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import semver from 'semver';
import { ROOT } from './support.ts';

interface LockedPackage {
  engines?: { node?: string } | string[];
}
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string; npm: string };
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockedPackage>;
};

describe('installation', () => {
  it('npm ci prints no engine, config or install-script warning', () => {
    const run = spawnSync('npm', ['ci', '--dry-run', '--no-audit', '--no-fund'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 0, run.stderr);
    const complaints = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((line) => /EBADENGINE|Unknown project config|install-scripts/.test(line));
    assert.deepEqual(complaints, []);
  });

  it('every Node version package.json promises runs every installed package', () => {
    const promised = manifest.engines.node;
    const refused = Object.entries(lock.packages).flatMap(([path, pkg]) => {
      const wants = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
      // Platform packages of other systems (sharp's for Windows, say) are locked but not installed.
      if (!path || !wants || !existsSync(join(ROOT, path))) return [];
      return semver.subset(promised, wants) ? [] : [`${path} wants node ${wants}`];
    });
    assert.deepEqual(refused, [], `package.json promises node ${promised}`);
    assert.ok(semver.satisfies(process.version, promised), `${process.version} is promised`);
  });
});
