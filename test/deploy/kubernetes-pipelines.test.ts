// deploy/kubernetes/pipelines, the base running a pipeline file, without a cluster or kustomize: its
// patches applied to the base as kustomize applies them (a strategic merge for the Deployment: lists
// merged by their keys; a JSON merge for KEDA's ScaledObject, a custom resource: lists replaced),
// every object validated against its schema, the mounted file a valid pipeline file that `run` loads,
// and one KEDA trigger for each of its queues, none for another.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap } from 'kubernetes-models/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { selectPipelines } from '../../src/config/pipeline-file.js';
import { K8S_DIR, kubernetesManifests, readYaml, schemaEnv, SOME_KEY, type Manifest } from './manifests.js';

const OVERLAY = `${K8S_DIR}pipelines/`;
/** The keys kustomize's strategic merge matches list items by, in a Deployment's pod template. */
const MERGE_KEYS: Record<string, string> = { containers: 'name', env: 'name', volumes: 'name', volumeMounts: 'mountPath', ports: 'containerPort' };

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `patch` over `base`; `strategic`: lists whose items have a merge key are merged item by item, the rest replaced. */
function merge(base: unknown, patch: unknown, strategic: boolean, key?: string): unknown {
  if (isObject(base) && isObject(patch)) {
    const out: Json = { ...base };
    for (const [name, value] of Object.entries(patch)) out[name] = name in base ? merge(base[name], value, strategic, name) : value;
    return out;
  }
  const by = key === undefined ? undefined : MERGE_KEYS[key];
  if (strategic && by !== undefined && Array.isArray(base) && Array.isArray(patch)) {
    const out = [...(base as Json[])];
    for (const item of patch as Json[]) {
      const at = out.findIndex((existing) => existing[by] === item[by]);
      if (at >= 0) out[at] = merge(out[at], item, strategic) as Json;
      else out.push(item);
    }
    return out;
  }
  return patch;
}

const [kustomization] = readYaml(`${OVERLAY}kustomization.yaml`) as [{ resources: string[]; patches: { path: string }[] }];
const added = kustomization.resources.filter((resource) => resource !== '..').flatMap((file) => readYaml(`${OVERLAY}${file}`) as Manifest[]);
const patches = kustomization.patches.flatMap((patch) => readYaml(`${OVERLAY}${patch.path}`) as Manifest[]);
const rendered: Manifest[] = [
  ...kubernetesManifests().map((manifest) => {
    const patch = patches.find((p) => p.kind === manifest.kind && p.metadata.name === manifest.metadata.name);
    return patch === undefined ? manifest : (merge(manifest, patch, manifest.apiVersion === 'apps/v1') as Manifest);
  }),
  ...added,
];
const one = <T>(kind: string, name: string): T => {
  const found = rendered.filter((manifest) => manifest.kind === kind && manifest.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  const { file: _file, ...object } = found[0]!;
  return object as T;
};

describe('deploy/kubernetes/pipelines (a pipeline file on Kubernetes)', () => {
  const deployment = one<IDeployment>('Deployment', 'sqs2pg');
  const container = deployment.spec!.template.spec!.containers[0]!;
  const fileMap = one<IConfigMap>('ConfigMap', 'sqs2pg-pipelines');
  const settingsMap = one<IConfigMap>('ConfigMap', 'sqs2pg');
  const scaled = one<{ spec: { triggers: { type: string; metadata: Record<string, string> }[] } }>('ScaledObject', 'sqs2pg');

  it('patches only objects of the base, and every object it gives validates against its schema', () => {
    for (const patch of patches) expect(kubernetesManifests().some((m) => m.kind === patch.kind && m.metadata.name === patch.metadata.name), patch.kind).toBe(true);
    expect(() => new Deployment(deployment as never).validate()).not.toThrow();
    expect(() => new ConfigMap(fileMap as never).validate()).not.toThrow();
    expect(() => new ScaledObject(scaled as never).validate()).not.toThrow();
    // The base's environment is kept, the file's added.
    expect((container.env ?? []).map((variable) => variable.name)).toEqual(['DATABASE_URL', 'SQS2PG_MASK_KEY', 'SQS2PG_CONFIG']);
    expect((container.env ?? []).map((variable) => variable.name).filter((name) => !schemaEnv.has(name))).toEqual([]);
  });

  it('mounts the file where SQS2PG_CONFIG points, and run loads it: every pipeline, one trigger per queue', () => {
    const path = container.env?.find((variable) => variable.name === 'SQS2PG_CONFIG')?.value;
    const mount = container.volumeMounts?.find((m) => path?.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = deployment.spec!.template.spec!.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe(fileMap.metadata!.name);
    const key = path!.slice(mount!.mountPath.length + 1);
    const text = fileMap.data?.[key];
    expect(text, `the ConfigMap has no ${key}`).toBeDefined();

    const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-k8s-'));
    try {
      const file = join(dir, key);
      writeFileSync(file, text!);
      const env = { ...settingsMap.data, DATABASE_URL: 'postgres://u:p@db:5432/logins', SQS2PG_MASK_KEY: SOME_KEY, SQS2PG_CONFIG: file };
      const [command, ...args] = container.args ?? [];
      const { config } = loadConfig('run', args, env);
      expect(command).toBe('run');
      const pipelines = selectPipelines(config, env);
      expect(pipelines.map((pipeline) => pipeline.name)).toEqual(['logins', 'page_views']);
      const queues = pipelines.map((pipeline) => pipeline.queue).sort();
      expect(scaled.spec.triggers.every((trigger) => trigger.type === 'aws-sqs-queue')).toBe(true);
      expect(scaled.spec.triggers.map((trigger) => trigger.metadata.queueURL).sort()).toEqual(queues);
      for (const trigger of scaled.spec.triggers) expect(trigger.metadata.awsRegion).toBe(settingsMap.data?.AWS_REGION);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the merge above is kustomize\'s: a strategic merge adds to a keyed list, a JSON merge replaces a list', () => {
    expect(merge({ env: [{ name: 'A', value: '1' }] }, { env: [{ name: 'B', value: '2' }, { name: 'A', value: '3' }] }, true)).toEqual({
      env: [{ name: 'A', value: '3' }, { name: 'B', value: '2' }],
    });
    expect(merge({ triggers: [{ a: 1 }] }, { triggers: [{ b: 2 }] }, false)).toEqual({ triggers: [{ b: 2 }] });
  });
});
