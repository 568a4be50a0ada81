// Collects the figures of every fault scenario of a run. After a full run (npm run test:faults)
// it records them, with the date and the machine, in docs/figures/faults.json, from which
// `npm run docs -- --fault-chart` writes docs/reliability.md's table and its chart. A short run
// (npm test) records nothing and prints nothing: each scenario has said its line already.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { FAULT_RUN_FILE, ROOT, type FaultRun } from '../../scripts/docs-sections.js';
import type { Figures } from './harness.js';

declare module 'vitest' {
  export interface ProvidedContext {
    figuresFile: string;
  }
}

export default function setup(project: TestProject): () => void {
  const file = join(mkdtempSync(join(tmpdir(), 'sqs2pg-faults-')), 'figures.jsonl');
  writeFileSync(file, '');
  project.provide('figuresFile', file);
  return () => {
    if (!existsSync(file)) return;
    const figures = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Figures & { scale: string });
    if (figures.length === 0 || !figures.every((row) => row.scale === 'full') || process.env.FAULTS_RECORD === '0') return;
    const run: FaultRun = {
      date: new Date().toISOString().slice(0, 10),
      machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      command: 'npm run test:faults',
      scenarios: figures.map(({ scale: _scale, ...row }) => row),
    };
    writeFileSync(`${ROOT}${FAULT_RUN_FILE}`, `${JSON.stringify(run, null, 2)}\n`);
  };
}
