// The GitHub Actions workflows, parsed: tests run CI's own entry point, images are built for the
// Dockerfile's variants, and deploy and stop handle secrets safely: scoped to an environment, reaching
// scripts only through env (no ${{ }} in a script's text, where a value could inject commands), never
// printed, and key files written with umask 077.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { dockerStages, read, ROOT, yamlDocuments } from './support.ts';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  environment?: string;
  env?: Record<string, string>;
  steps: Step[];
  strategy?: { matrix: Record<string, string[]> };
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}
const workflow = (name: string): Workflow =>
  yamlDocuments<Workflow>(read(`.github/workflows/${name}.yml`))[0] ?? assert.fail(`${name}.yml is empty`);
const all = ['test', 'image', 'deploy'].map((name) => [name, workflow(name)] as const);

describe('the GitHub Actions workflows', () => {
  it('test every push and pull request with CI’s own entry point', () => {
    const test = workflow('test');
    assert.ok('push' in test.on && 'pull_request' in test.on);
    const runs = Object.values(test.jobs).flatMap((job) => job.steps.map((s) => s.run));
    assert.ok(runs.includes('bash .ci/run'), 'the same script as CI here');
    assert.ok(existsSync(`${ROOT}.ci/run`));
  });

  it('build and push an image for each of the Dockerfile’s variants', () => {
    const image = workflow('image');
    const [job] = Object.values(image.jobs);
    const stages = dockerStages(read('Dockerfile')).map((s) => s.name);
    for (const variant of job?.strategy?.matrix.variant ?? [])
      assert.ok(stages.includes(`build-${variant}`) && stages.includes(`base-${variant}`), variant);
    const build = job?.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'));
    assert.equal(build?.with?.['build-args'], 'VARIANT=${{ matrix.variant }}');
    assert.equal(build?.with?.push, true);
    assert.equal(image.permissions?.packages, 'write');
  });

  it('deploy and stop by hand, compose or helm, each in a GitHub environment', () => {
    const deploy = workflow('deploy');
    const inputs = (deploy.on.workflow_dispatch as { inputs: Record<string, { options?: string[] }> }).inputs;
    assert.deepEqual(inputs.target?.options, ['compose', 'helm']);
    assert.deepEqual(inputs.action?.options, ['deploy', 'stop']);
    for (const [name, job] of Object.entries(deploy.jobs))
      assert.equal(job.environment, '${{ inputs.environment }}', `${name}: secrets scoped to an environment`);
    const scripts = Object.values(deploy.jobs).flatMap((job) => job.steps.map((s) => s.run ?? ''));
    assert.ok(
      scripts.some((s) => s.includes('deploy/helm/hubserve')) && existsSync(`${ROOT}deploy/helm/hubserve`),
    );
    const writesCredentials = /\$(SSH_KEY|KUBECONFIG_DATA)"[^\n]*>/;
    const writers = scripts.filter((script) => writesCredentials.test(script));
    assert.equal(writers.length, 2, 'the SSH key and the kubeconfig');
    for (const script of writers)
      assert.match(script, /^umask 077\n/, 'credentials written to files only their owner reads');
  });

  it('keep expressions out of scripts and secrets out of logs', () => {
    for (const [name, flow] of all) {
      for (const [jobName, job] of Object.entries(flow.jobs)) {
        for (const step of job.steps) {
          const where = `${name}.yml ${jobName}: ${step.name ?? step.uses ?? step.run?.slice(0, 40)}`;
          assert.doesNotMatch(step.run ?? '', /\$\{\{/, `${where}: values reach scripts through env`);
          assert.doesNotMatch(
            step.run ?? '',
            /\b(echo|printf)\b[^\n|>]*\$(SSH_KEY|KUBECONFIG_DATA)\b[^\n>]*$/m,
          );
          assert.doesNotMatch(step.run ?? '', /set -x|--debug/, `${where}: no tracing of secrets`);
        }
      }
    }
  });
});
