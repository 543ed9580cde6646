// The import graph of src/ has no cycle, type-only imports included: dependencies point one way,
// between modules and between src/'s folders (http may use registry, never the other way round).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { it } from 'node:test';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** Each module of src/ and the modules of src/ it imports or re-exports. */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => resolve(SRC, f));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gms)].map((m) =>
      resolve(dirname(file), m[1] ?? ''),
    );
    graph.set(
      file,
      targets.filter((t) => known.has(t)),
    );
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

it('src/ has no import cycle', () => {
  const graph = importGraph();
  assert.ok(graph.size > 50, `read ${graph.size} modules`);
  const names = cycles(graph).map((cycle) => cycle.map((f) => relative(SRC, f)).join(' -> '));
  assert.deepEqual(names, []);
});

/** The graph of src/'s top-level folders (a file directly in src/ is a folder of its own). */
function folderGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const folder = (file: string): string => relative(SRC, file).split('/')[0] ?? '';
  const folders = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folders.get(folder(file)) ?? new Set<string>();
    for (const target of targets) if (folder(target) !== folder(file)) from.add(folder(target));
    folders.set(folder(file), from);
  }
  return new Map([...folders].map(([name, targets]) => [name, [...targets]]));
}

it("src/'s folders depend on each other one way", () => {
  const names = cycles(folderGraph(importGraph())).map((cycle) => cycle.join(' -> '));
  assert.deepEqual(names, []);
});
