// The Helm chart rendered by Helm itself (helm template, helm lint), and the KServe example, checked
// against a live server and its configuration: probes ask routes that answer, ports and selectors
// line up, every variable is read by hubserve, the rendered config file plus the pod's environment
// starts the server, the autoscaler's custom metric is one hubserve exports. No cluster is needed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newKey } from '../../src/auth/keys.ts';
import { loadConfig } from '../../src/config/load.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';
import {
  dockerStages,
  read,
  readByServer,
  ROOT,
  stageEnv,
  startingConfig,
  yamlDocuments,
} from './support.ts';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop: { exec: { command: string[] } } };
  resources: { limits?: Record<string, unknown> };
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  terminationGracePeriodSeconds: number;
  tolerations?: { key: string }[];
  nodeSelector?: Record<string, string>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const CHART = join(ROOT, 'deploy/helm/hubserve');
const helmMissing = (() => {
  try {
    execFileSync('helm', ['version', '--short']);
    return false;
  } catch {
    return true;
  }
})();
if (helmMissing && process.env.HUBSERVE_REQUIRE_HELM === '1') {
  throw new Error('helm is required here (HUBSERVE_REQUIRE_HELM=1): bash deploy/helm/install-helm.sh');
}
const skip = helmMissing ? 'helm is not installed (bash deploy/helm/install-helm.sh)' : false;

const { hash } = newKey();
const dir = mkdtempSync(join(tmpdir(), 'hubserve-chart-'));
let server: TestServer | undefined;
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** helm template with --set-json values; the rendered objects. */
function render(values: Record<string, unknown> = {}, files: string[] = []): K8sObject[] {
  const args = [
    'template',
    'hubserve',
    CHART,
    '--namespace',
    'ml',
    ...files.flatMap((f) => ['-f', join(CHART, f)]),
  ];
  for (const [path, value] of Object.entries(values))
    args.push('--set-json', `${path}=${JSON.stringify(value)}`);
  return yamlDocuments<K8sObject>(execFileSync('helm', args, { encoding: 'utf8', stdio: 'pipe' }));
}
const find = (objects: K8sObject[], kind: string): K8sObject =>
  objects.find((o) => o.kind === kind) ?? assert.fail(`no ${kind} rendered`);
const findAll = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const podOf = (objects: K8sObject[]): PodSpec =>
  (find(objects, 'Deployment').spec.template as { spec: PodSpec }).spec;
const server_ = (pod: PodSpec): Container => pod.containers.find((c) => c.name === 'hubserve') as Container;

/** A container's environment, Secret references resolved from the rendered Secrets (or `given`). */
function envOf(
  container: Container,
  objects: K8sObject[],
  given: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    const secret = ref && findAll(objects, 'Secret').find((s) => s.metadata.name === ref.name);
    env[variable.name] = ref
      ? (secret?.stringData?.[ref.key] ?? given[ref.name] ?? assert.fail(`no Secret ${ref.name}`))
      : (variable.value ?? '');
  }
  return env;
}

/** The server container's configuration: the image's env, the pod's, the ConfigMap's file. */
function podConfig(objects: K8sObject[], given: Record<string, string> = {}) {
  const file = join(dir, `hubserve-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, find(objects, 'ConfigMap').data?.['hubserve.yaml'] ?? '');
  const image = stageEnv(dockerStages(read('Dockerfile')).at(-1) ?? assert.fail('no stages'));
  const env: Record<string, string> = {
    ...image,
    ...envOf(server_(podOf(objects)), objects, given),
    HUBSERVE_CONFIG: file,
  };
  return { env, config: startingConfig(env) };
}

const withKeys = { 'auth.apiKeys': [{ name: 'app', hash, scopes: ['infer'] }] };
const everything = {
  ...withKeys,
  'autoscaling.enabled': true,
  'autoscaling.queueDepth.enabled': true,
  'serviceMonitor.enabled': true,
  'serviceMonitor.keySecret.name': 'prometheus-key',
  'ingress.enabled': true,
};

describe('the Helm chart', { skip }, () => {
  before(async () => {
    server = await serve([tiny('sentiment', 'hubserve-test/tiny-sentiment')]);
  });

  it('passes helm lint --strict, and its appVersion is the package’s version', () => {
    execFileSync('helm', ['lint', '--strict', CHART, '--set', 'auth.insecure=true'], { stdio: 'pipe' });
    const [chart] = yamlDocuments<{ appVersion: string }>(read('deploy/helm/hubserve/Chart.yaml'));
    const { version } = JSON.parse(read('package.json')) as { version: string };
    assert.equal(chart?.appVersion, version);
  });

  it('refuses to render a server without API keys unless told insecure', () => {
    assert.throws(() => render(), /refuses to serve without API keys/);
    const pod = podOf(render({ 'auth.insecure': true }));
    assert.equal(envOf(server_(pod), []).HUBSERVE_INSECURE, 'true');
    assert.throws(() => render({ 'serviceMonitor.enabled': true, ...withKeys }), /metrics scope/);
  });

  it('probes routes that answer on a live server, on the port the container listens on', async () => {
    const objects = render(everything);
    const container = server_(podOf(objects));
    const port = container.ports?.find((p) => p.name === 'http');
    assert.equal(String(port?.containerPort), envOf(container, objects).HUBSERVE_PORT);
    const probes = {
      startup: container.startupProbe,
      readiness: container.readinessProbe,
      liveness: container.livenessProbe,
    };
    for (const [kind, probe] of Object.entries(probes)) {
      assert.equal(probe?.httpGet.port, 'http', `${kind} probe port`);
      const answer = await fetch(`${server?.url}${probe?.httpGet.path}`);
      assert.equal(answer.status, 200, `${kind} probe ${probe?.httpGet.path} on a ready server`);
    }
    assert.equal(
      container.readinessProbe?.httpGet.path,
      '/ready',
      'readiness is models warm, not just alive',
    );
  });

  it("sets only variables hubserve reads, and the pod's config file and environment start the server", () => {
    const objects = render({ ...everything, 'hfToken.existingSecret': 'hf' });
    const pod = podOf(objects);
    for (const container of [...(pod.initContainers ?? []), ...pod.containers])
      for (const [name, value] of Object.entries(envOf(container, objects, { hf: 'hf_token' })))
        assert.ok(readByServer(name, value), `${container.name}: ${name} is read by hubserve`);
    const { env, config } = podConfig(objects);
    assert.equal(env.HF_HUB_OFFLINE, '1', 'the init containers pulled: serve offline');
    assert.deepEqual(config.models, [
      { name: 'sentiment', source: 'Xenova/distilbert-base-uncased-finetuned-sst-2-english', dtype: 'q8' },
    ]);
    assert.deepEqual(config.api_keys, [{ name: 'app', hash, scopes: ['infer'] }], 'from the Secret');
    assert.ok(!server_(pod).env?.some((v) => v.name === 'HF_TOKEN'), 'the server never sees HF_TOKEN');
  });

  it('pulls each Hub model with its dtype into the cache volume the server reads', () => {
    const models = [
      { name: 'a', source: 'org/a', dtype: 'q8' },
      { name: 'b', source: 'org/b@v2' },
      { name: 'local', source: '/models/local' },
    ];
    const objects = render({ ...withKeys, models, 'hfToken.existingSecret': 'hf' });
    const pod = podOf(objects);
    const init = pod.initContainers ?? [];
    assert.deepEqual(
      init.map((c) => c.args),
      [
        ['pull', 'org/a', '--dtype', 'q8'],
        ['pull', 'org/b@v2', '--dtype', 'fp32'],
      ],
      'local folders are not pulled',
    );
    const cache = (c: Container) => c.volumeMounts.find((m) => m.name === 'cache')?.mountPath;
    for (const c of [...init, server_(pod)])
      assert.equal(cache(c), envOf(c, objects, { hf: 't' }).HF_HOME, `${c.name} cache at HF_HOME`);
    assert.equal(envOf(init[0] as Container, objects, { hf: 't' }).HF_TOKEN, 't');
    assert.equal(podConfig(objects).config.models.length, 3);
  });

  it('gives requests in flight their drain time before the pod is killed', () => {
    const objects = render(withKeys);
    const pod = podOf(objects);
    const sleep = Number(server_(pod).lifecycle?.preStop.exec.command[1]);
    const { config } = podConfig(objects);
    assert.ok(
      pod.terminationGracePeriodSeconds > sleep + config.shutdown_timeout_s,
      `grace ${pod.terminationGracePeriodSeconds}s > preStop ${sleep}s + shutdown_timeout_s ${config.shutdown_timeout_s}s`,
    );
    const checksum = (o: K8sObject[]) =>
      (find(o, 'Deployment').spec.template as { metadata: { annotations: Record<string, string> } }).metadata
        .annotations['checksum/config'];
    assert.notEqual(
      checksum(objects),
      checksum(render({ ...withKeys, 'config.log_level': 'debug' })),
      'rolls',
    );
  });

  it('wires Service, PodDisruptionBudget, autoscaler, ServiceMonitor and Ingress to the pods', async () => {
    const objects = render(everything);
    const deployment = find(objects, 'Deployment');
    const podLabels = (deployment.spec.template as { metadata: { labels: Record<string, string> } }).metadata
      .labels;
    const matches = (selector: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => podLabels[k] === v) && Object.keys(selector).length > 0;
    const service = find(objects, 'Service');
    assert.ok(matches(service.spec.selector as Record<string, string>), 'Service selects the pods');
    const [servicePort] = service.spec.ports as { name: string; targetPort: string }[];
    assert.equal(servicePort?.targetPort, 'http');
    const pdb = find(objects, 'PodDisruptionBudget');
    assert.ok(matches((pdb.spec.selector as { matchLabels: Record<string, string> }).matchLabels), 'PDB');
    assert.equal('replicas' in deployment.spec, false, 'the autoscaler owns the replica count');

    const hpa = find(objects, 'HorizontalPodAutoscaler');
    assert.equal((hpa.spec.scaleTargetRef as { name: string }).name, deployment.metadata.name);
    const metrics = hpa.spec.metrics as { type: string; pods?: { metric: { name: string } } }[];
    assert.deepEqual(
      metrics.map((m) => m.type),
      ['Resource', 'Pods'],
    );
    const custom = metrics[1]?.pods?.metric.name ?? '';
    const [adapter] = yamlDocuments<{ rules: { custom: { seriesQuery: string; name: { as: string } }[] } }>(
      read('deploy/helm/prometheus-adapter.yaml'),
    );
    const rule = adapter?.rules.custom.find((r) => r.name.as === custom);
    assert.ok(rule, `the Prometheus adapter serves ${custom}`);
    const series = /^'?(\w+)\{/.exec(rule.seriesQuery)?.[1] ?? '';
    const exported = await (await fetch(`${server?.url}/metrics`)).text();
    assert.match(exported, new RegExp(`^${series}\\{`, 'm'), `hubserve exports ${series}`);

    const monitor = find(objects, 'ServiceMonitor');
    const [endpoint] = monitor.spec.endpoints as { port: string; path: string; authorization: unknown }[];
    assert.equal(endpoint?.port, servicePort?.name);
    assert.equal((await fetch(`${server?.url}${endpoint?.path}`)).status, 200);
    assert.deepEqual(endpoint?.authorization, {
      type: 'Bearer',
      credentials: { name: 'prometheus-key', key: 'key' },
    });

    const ingress = find(objects, 'Ingress');
    assert.equal(
      ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/upstream-hash-by'],
      '$http_authorization',
    );
    const [rule0] = ingress.spec.rules as {
      http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] };
    }[];
    const backend = rule0?.http.paths[0]?.backend.service;
    assert.equal(backend?.name, service.metadata.name);
    assert.equal(backend?.port.name, servicePort?.name);
  });

  it('uses an existing Secret for the keys rather than making one', () => {
    const objects = render({ 'auth.existingSecret': 'keys' });
    assert.equal(findAll(objects, 'Secret').length, 0);
    const ref = server_(podOf(objects)).env?.find((v) => v.name === 'HUBSERVE_API_KEYS');
    assert.deepEqual(ref?.valueFrom?.secretKeyRef, { name: 'keys', key: 'HUBSERVE_API_KEYS' });
    const { config } = podConfig(objects, { keys: `[{name: k, hash: "${hash}", scopes: [infer]}]` });
    assert.equal(config.api_keys[0]?.name, 'k');
  });

  it('has a GPU profile: a GPU per pod, GPU nodes, their taint tolerated, models on cuda', () => {
    const objects = render(withKeys, ['values-gpu.yaml']);
    const pod = podOf(objects);
    assert.equal(server_(pod).resources.limits?.['nvidia.com/gpu'], 1);
    assert.ok(pod.tolerations?.some((t) => t.key === 'nvidia.com/gpu'));
    assert.equal(pod.nodeSelector?.['nvidia.com/gpu.present'], 'true');
    assert.match(server_(pod).image, /-cuda$/);
    assert.deepEqual(
      podConfig(objects).config.models.map((m) => m.device),
      ['cuda'],
    );
  });
});

describe('the KServe example', () => {
  const [runtime, service] = yamlDocuments<K8sObject>(read('deploy/kserve/hubserve.yaml'));
  const container = (runtime?.spec.containers as Container[])[0] as Container;

  before(async () => {
    server ??= await serve([tiny('sentiment', 'hubserve-test/tiny-sentiment')]);
  });

  it('serves the InferenceService’s model, from /mnt/models, with the v2 protocol', () => {
    assert.equal(runtime?.kind, 'ServingRuntime');
    assert.deepEqual(runtime?.spec.protocolVersions, ['v2']);
    const model = (service?.spec.predictor as { model: { runtime: string; protocolVersion: string } }).model;
    assert.equal(model.runtime, runtime?.metadata.name);
    assert.equal(model.protocolVersion, 'v2');
    const [command, argument] = container.args;
    assert.equal(command, 'serve');
    const env = envOf(container, [], {
      'hubserve-api-keys': `[{name: k, hash: "${hash}", scopes: [infer]}]`,
    });
    for (const [name, value] of Object.entries(env)) assert.ok(readByServer(name, value), name);
    // KServe puts the InferenceService's name in place of {{.Name}}.
    const config = loadConfig({ env, models: [String(argument).replace('{{.Name}}', 'sentiment')] });
    assert.deepEqual(config.models, [{ name: 'sentiment', source: '/mnt/models' }]);
    assert.deepEqual(config.model_dirs, ['/mnt/models'], 'the only folder it may serve from');
    startingConfig(env);
  });

  it('probes readiness on the v2 route that a live server answers, on its port', async () => {
    const probe = container.readinessProbe?.httpGet;
    assert.equal(String(probe?.port), envOf(container, [], { 'hubserve-api-keys': '[]' }).HUBSERVE_PORT);
    assert.equal(container.ports?.[0]?.containerPort, probe?.port);
    assert.equal((await fetch(`${server?.url}${probe?.path}`)).status, 200, String(probe?.path));
  });
});
