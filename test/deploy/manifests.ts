// Reading the deployment files for the tests: YAML documents, and the environment they give sqs2pg.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { settings } from '../../src/config/schema.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const K8S_DIR = `${ROOT}deploy/kubernetes/`;

/** Every environment variable sqs2pg's configuration schema knows. */
export const schemaEnv = new Set(Object.values(settings).map((spec) => spec.env));

/** A mask key for tests (public): 32 bytes, base64. */
export const SOME_KEY = Buffer.from('6b0f3a52c1d94e87a2f5b3c8d90e1f2a7c4b5d6e8f9a0b1c2d3e4f5061728394', 'hex').toString('base64');

export interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Parses a YAML file with any number of documents; a YAML error fails the test with its position. */
export function readYaml(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'), { prettyErrors: true });
  return documents.map((document) => {
    if (document.errors.length > 0) throw new Error(`${path}: ${document.errors.map((error) => error.message).join('; ')}`);
    return document.toJS() as unknown;
  });
}

export function kubernetesFiles(): string[] {
  return readdirSync(K8S_DIR).filter((file) => file.endsWith('.yaml')).sort();
}

export function kubernetesManifests(): Manifest[] {
  return kubernetesFiles()
    .filter((file) => file !== 'kustomization.yaml')
    .flatMap((file) => readYaml(`${K8S_DIR}${file}`).map((document) => ({ ...(document as Manifest), file })));
}
