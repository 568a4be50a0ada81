// The runtime the image ships is one the version matrix tests, one package.json allows, and CI runs
// that matrix.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ROOT } from './manifests.js';

it("the Dockerfile's Node is a major .ci/matrix runs the suite on, within package.json's engines", () => {
  const image = /^ARG NODE_IMAGE=node:(\d+)-alpine\S*$/m.exec(readFileSync(`${ROOT}Dockerfile`, 'utf8'));
  const legs = [...readFileSync(`${ROOT}.ci/matrix`, 'utf8').matchAll(/^leg "Node (\d+),/gm)].map((leg) => Number(leg[1]));
  const engines = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { engines: { node: string } }).engines.node;
  expect(image, 'ARG NODE_IMAGE=node:<major>-alpine').not.toBeNull();
  const major = Number(image![1]);
  expect(legs).toContain(major);
  expect(major).toBeGreaterThanOrEqual(Number(/^>=(\d+)/.exec(engines)![1]));
});

it('CI runs the version matrix after the test command', () => {
  const steps = readFileSync(`${ROOT}.ci/run`, 'utf8').split('\n').filter((line) => /^npm /.test(line));
  expect(steps.slice(-2)).toEqual(['npm test', 'npm run test:matrix']);
});
