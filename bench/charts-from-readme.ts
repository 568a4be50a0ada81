// `npm run charts`: draws docs/*.svg from the figures docs/ publishes (the last benchmark and
// fault-suite runs, in performance.md and reliability.md), without running either. `npm run bench -- --write-readme` draws the benchmark's
// from its own run instead.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchFiguresFromReadme, faultFiguresFromReadme, writeBenchCharts, writeFaultChart } from './charts.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const performance = readFileSync(`${ROOT}docs/performance.md`, 'utf8');
const reliability = readFileSync(`${ROOT}docs/reliability.md`, 'utf8');
const written = [...(await writeBenchCharts(benchFiguresFromReadme(performance), `${ROOT}docs`)), await writeFaultChart(faultFiguresFromReadme(reliability), `${ROOT}docs`)];
for (const path of written) console.log(`wrote ${path.slice(ROOT.length)}`);
