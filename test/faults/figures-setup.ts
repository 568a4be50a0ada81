// Collects the figures line of every fault scenario of a run, prints them as one table at the
// end, and after a full run (npm run test:faults) writes that table into the README and draws it
// (docs/faults-time.svg).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { faultFiguresFromReadme, writeFaultChart } from '../../bench/charts.js';
import type { Figures } from './harness.js';

declare module 'vitest' {
  export interface ProvidedContext {
    figuresFile: string;
  }
}

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const START = '<!-- reliability:start (written by npm run test:faults) -->';
const END = '<!-- reliability:end -->';

export default function setup(project: TestProject): () => Promise<void> {
  const file = join(mkdtempSync(join(tmpdir(), 'sqs2pg-faults-')), 'figures.jsonl');
  writeFileSync(file, '');
  project.provide('figuresFile', file);
  return async () => {
    if (!existsSync(file)) return;
    const figures = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Figures & { scale: string });
    if (figures.length === 0) return;
    const table = renderTable(figures);
    console.log(`\nFault scenarios (${figures[0]?.scale ?? 'short'}):\n${table}\n`);
    if (figures.every((row) => row.scale === 'full') && process.env.FAULTS_WRITE_README !== '0') {
      const text = readFileSync(README, 'utf8');
      const start = text.indexOf(START);
      const end = text.indexOf(END);
      if (start === -1 || end < start) return;
      const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
      const section = [
        START,
        `Last full run: ${new Date().toISOString().slice(0, 10)}, on ${machine}; \`npm run test:faults\`.`,
        '',
        table,
        END,
      ].join('\n');
      const written = text.slice(0, start) + section + text.slice(end + END.length);
      writeFileSync(README, written);
      await writeFaultChart(faultFiguresFromReadme(written), fileURLToPath(new URL('../../docs', import.meta.url)));
    }
  };
}

function renderTable(figures: readonly Figures[]): string {
  const rows = [...figures]
    .sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }))
    .map(
      (row) =>
        `| ${row.scenario} | ${row.messages.toLocaleString('en-US')} | ${row.faults} | ${row.lost} | ${row.duplicated} | ${row.pii} | ${row.seconds.toFixed(1)} s |`,
    );
  // Scenario 9 is the scan every other scenario ran: its row adds theirs up.
  const scanned = figures.reduce((sum, row) => sum + row.messages, 0);
  const found = figures.reduce((sum, row) => sum + row.pii, 0);
  rows.push(
    `| 9 privacy under failure | ${scanned.toLocaleString('en-US')} | every log line, error, row and quarantine record of the rows above, scanned for the workloads' raw ip and device_id values | | | ${found} | |`,
  );
  return ['| scenario | messages | faults injected | lost | duplicated | raw PII found | time |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}
