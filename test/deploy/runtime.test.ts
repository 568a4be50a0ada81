// The runtime the image ships is one the version matrix tests, and one package.json allows.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ROOT } from './manifests.js';

it("the Dockerfile's Node is a major .ci/matrix runs the suite on, within package.json's engines", () => {
  const image = /^ARG NODE_IMAGE=node:(\d+)-alpine\S*$/m.exec(readFileSync(`${ROOT}Dockerfile`, 'utf8'));
  const matrix = /^NODE_MAJORS=\(([\d ]+)\)$/m.exec(readFileSync(`${ROOT}.ci/matrix`, 'utf8'));
  const engines = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { engines: { node: string } }).engines.node;
  expect(image, 'ARG NODE_IMAGE=node:<major>-alpine').not.toBeNull();
  expect(matrix, 'NODE_MAJORS=(...) in .ci/matrix').not.toBeNull();
  const major = Number(image![1]);
  expect(matrix![1]!.split(' ').map(Number)).toContain(major);
  expect(major).toBeGreaterThanOrEqual(Number(/^>=(\d+)/.exec(engines)![1]));
});
