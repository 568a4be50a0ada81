// deploy/kubernetes/ without a cluster: every file parses, every object validates against the
// Kubernetes schemas (kubernetes-models, and its KEDA and Prometheus-operator packages), and the
// objects agree with each other and with sqs2pg's configuration schema.
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { K8S_DIR, kubernetesFiles, ROOT, kubernetesManifests, readYaml, schemaEnv, SOME_KEY, type Manifest } from './manifests.js';

type Validating = new (data: never) => { validate(): void };
const models: Record<string, Validating> = {
  'apps/v1 Deployment': Deployment,
  'v1 ConfigMap': ConfigMap,
  'v1 Service': Service,
  'v1 ServiceAccount': ServiceAccount,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1 ScaledObject': ScaledObject,
  'keda.sh/v1alpha1 TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1 PrometheusRule': PrometheusRule,
};

const manifests = kubernetesManifests();
const only = <T>(kind: string): T & Manifest => {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T & Manifest;
};
const deployment = only<IDeployment>('Deployment');
const configMap = only<IConfigMap>('ConfigMap');
const pod = deployment.spec!.template.spec!;
const container = pod.containers[0]!;

describe('deploy/kubernetes', () => {
  it("kustomization.yaml sets the Deployment's image (images:), so a build can point it at its own registry", () => {
    const [kustomization] = readYaml(`${K8S_DIR}kustomization.yaml`) as [{ images?: { name: string; newName?: string; newTag?: string }[] }];
    const [deployment] = readYaml(`${K8S_DIR}deployment.yaml`) as [{ spec: { template: { spec: { containers: { image: string }[] } } } }];
    const images = deployment.spec.template.spec.containers.map((container) => container.image.split(':')[0]);
    expect(kustomization.images?.map((image) => image.name)).toEqual(images);
    for (const image of kustomization.images ?? []) expect(image.newTag).toMatch(/\S/);
  });

  it('kustomization.yaml lists every manifest in the folder, and nothing else', () => {
    const [kustomization] = readYaml(`${K8S_DIR}kustomization.yaml`) as [{ resources: string[] }];
    expect([...kustomization.resources].sort()).toEqual(kubernetesFiles().filter((file) => file !== 'kustomization.yaml'));
  });

  it.each(manifests.map((manifest) => [`${manifest.file}: ${manifest.kind} ${manifest.metadata.name}`, manifest] as const))(
    '%s validates against its schema',
    (_name, manifest) => {
      const Model = models[`${manifest.apiVersion} ${manifest.kind}`];
      expect(Model, `no schema for ${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
      const { file: _file, ...object } = manifest;
      expect(() => new Model!(object as never).validate()).not.toThrow();
    },
  );

  it('the schemas do refuse a broken object (the validation above can fail)', () => {
    const broken = structuredClone(deployment) as Record<string, unknown> & IDeployment;
    delete (broken as { file?: string }).file;
    (broken.spec!.template.spec!.containers[0] as { ports: unknown }).ports = [{ containerPort: 'http' }];
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort/);
  });

  it('every environment variable set is one sqs2pg knows, and together they make a valid run configuration', () => {
    const names = [...Object.keys(configMap.data ?? {}), ...(container.env ?? []).map((variable) => variable.name)];
    expect(names.filter((name) => !schemaEnv.has(name))).toEqual([]);
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
    const env = { ...configMap.data, DATABASE_URL: 'postgres://u:p@db:5432/logins', SQS2PG_MASK_KEY: SOME_KEY };
    const [command, ...args] = container.args ?? [];
    expect(command).toBe('run');
    const { config } = loadConfig('run', args, env);
    expect(config.drain).toBe(false);
    expect(config.httpHost).toBe('0.0.0.0');
  });

  it('keeps the secrets in a Secret, by reference', () => {
    const fromSecret = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.valueFrom?.secretKeyRef?.name]));
    expect(fromSecret).toEqual({ DATABASE_URL: 'sqs2pg', SQS2PG_MASK_KEY: 'sqs2pg' });
    expect((container.env ?? []).every((variable) => variable.value === undefined)).toBe(true);
    expect(Object.keys(configMap.data ?? {}).filter((name) => /KEY|PASSWORD|DATABASE_URL/.test(name))).toEqual([]);
  });

  it('probes /healthz and /readyz on the port sqs2pg serves', () => {
    const port = container.ports?.find((p) => p.name === 'http');
    expect(port?.containerPort).toBe(Number(configMap.data?.SQS2PG_HTTP_PORT));
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(deployment.spec!.template.metadata?.annotations).toMatchObject({ 'prometheus.io/port': String(port?.containerPort), 'prometheus.io/path': '/metrics' });
  });

  it('gives a stopping worker longer than the visibility timeout', () => {
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(configMap.data?.SQS2PG_VISIBILITY_TIMEOUT_SEC));
  });

  it('runs non-root, read-only, without privileges, with resources set', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(Object.keys(container.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources?.limits ?? {})).toContain('memory');
  });

  it('selects the same pods everywhere: Service, PodDisruptionBudget, ServiceMonitor, ScaledObject', () => {
    const podLabels = deployment.spec!.template.metadata!.labels!;
    const matches = (selector: Record<string, string> | undefined) =>
      Object.entries(selector ?? {}).every(([key, value]) => podLabels[key] === value) && Object.keys(selector ?? {}).length > 0;
    const service = only<{ spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] } }>('Service');
    expect(matches(service.spec.selector)).toBe(true);
    expect(service.spec.ports[0]?.targetPort).toBe('http');
    expect(matches(only<{ spec: { selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
    const monitor = only<{ spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } }>('ServiceMonitor');
    expect(Object.entries(monitor.spec.selector.matchLabels).every(([key, value]) => service.metadata.labels?.[key] === value)).toBe(true);
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: service.spec.ports[0]?.name, path: '/metrics' });
    expect(only<{ spec: { scaleTargetRef: { name: string } } }>('ScaledObject').spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    expect(pod.serviceAccountName).toBe(only('ServiceAccount').metadata.name);
  });

  it('scales with the queue sqs2pg reads, down to zero, with KEDA aws-sqs-queue', () => {
    const scaled = only<{ spec: { minReplicaCount: number; maxReplicaCount: number; triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[] } }>('ScaledObject');
    expect(scaled.spec.minReplicaCount).toBe(0);
    expect(scaled.spec.maxReplicaCount).toBeGreaterThan(1);
    const [trigger] = scaled.spec.triggers;
    expect(trigger?.type).toBe('aws-sqs-queue');
    expect(trigger?.metadata.queueURL).toBe(configMap.data?.SQS_QUEUE_URL);
    expect(trigger?.metadata.awsRegion).toBe(configMap.data?.AWS_REGION);
    expect(Number(trigger?.metadata.queueLength)).toBeGreaterThan(0);
    expect(trigger?.authenticationRef.name).toBe(only('TriggerAuthentication').metadata.name);
    // KEDA owns the replica count: a fixed one in the Deployment would fight it on every apply.
    expect(deployment.spec!.replicas).toBeUndefined();
  });

  it("carries the same alerts as deploy/prometheus/sqs2pg-alerts.yaml, for the Prometheus operator", () => {
    const rule = only<{ spec: { groups: unknown } }>('PrometheusRule');
    const [rulesFile] = readYaml(`${ROOT}deploy/prometheus/sqs2pg-alerts.yaml`) as [{ groups: unknown }];
    expect(rule.spec.groups).toEqual(rulesFile.groups);
    expect(rule.metadata.labels?.['app.kubernetes.io/name']).toBe('sqs2pg');
  });
});
