import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseModelSource } from '../../src/hub/source.ts';
import { tempDir, throwsWith } from './helpers.ts';

describe('parseModelSource', () => {
  const cwd = tempDir();
  mkdirSync(join(cwd, 'models', 'sentiment'), { recursive: true });

  it('reads Hub ids with an optional revision', () => {
    const sha = '0123456789abcdef0123456789abcdef01234567';
    const cases: Array<[string, string, string]> = [
      [
        'Xenova/distilbert-base-uncased-finetuned-sst-2-english',
        'Xenova/distilbert-base-uncased-finetuned-sst-2-english',
        'main',
      ],
      ['gpt2', 'gpt2', 'main'],
      ['org/name@v1.0', 'org/name', 'v1.0'],
      ['org/name@refs/pr/1', 'org/name', 'refs/pr/1'],
      [`org/name@${sha}`, 'org/name', sha],
      ['org_1/my.model-2', 'org_1/my.model-2', 'main'],
    ];
    for (const [source, repo, revision] of cases) {
      assert.deepEqual(parseModelSource(source, cwd), { kind: 'hub', repo, revision }, source);
    }
  });

  it('reads local folders: explicit paths, and existing directories', () => {
    assert.deepEqual(parseModelSource('/srv/models/x', cwd), { kind: 'local', path: '/srv/models/x' });
    assert.deepEqual(parseModelSource('./x@v1', cwd), { kind: 'local', path: join(cwd, 'x@v1') });
    assert.deepEqual(parseModelSource('../x', cwd), { kind: 'local', path: join(cwd, '..', 'x') });
    assert.deepEqual(parseModelSource('.', cwd), { kind: 'local', path: cwd });
    assert.deepEqual(parseModelSource('~/models/x', cwd), {
      kind: 'local',
      path: join(homedir(), 'models/x'),
    });
    assert.deepEqual(parseModelSource('models/sentiment', cwd), {
      kind: 'local',
      path: join(cwd, 'models', 'sentiment'),
    });
  });

  it('refuses what is neither a folder nor a valid Hub id', () => {
    const invalid = [
      '',
      'org/na me',
      'models/missing/folder',
      '-org/name',
      'org/name-',
      'org/.name',
      'org--x/name',
      'org/na..me',
      'org/name.git',
      'org/' + 'x'.repeat(97),
      'org/näme',
    ];
    for (const source of invalid) {
      throwsWith(
        () => parseModelSource(source, cwd),
        'invalid_config',
        /neither an existing folder nor a Hub model id/,
        /"org\/name"/,
      );
    }
    assert.deepEqual(parseModelSource('org/' + 'x'.repeat(96), cwd).kind, 'hub');
  });

  it('refuses invalid revisions, saying how to write one', () => {
    for (const source of [
      'org/name@',
      'org/name@a..b',
      'org/name@bad rev',
      'org/name@/x',
      'org/name@x.lock',
    ]) {
      throwsWith(() => parseModelSource(source, cwd), 'invalid_config', /invalid revision/, /org\/name@main/);
    }
  });
});
