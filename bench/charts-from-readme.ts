// `npm run charts`: draws docs/*.svg from the figures the README publishes (the last benchmark and
// fault-suite runs), without running either. `npm run bench -- --write-readme` draws the benchmark's
// from its own run instead.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchFiguresFromReadme, faultFiguresFromReadme, writeBenchCharts, writeFaultChart } from './charts.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${ROOT}README.md`, 'utf8');
const written = [...(await writeBenchCharts(benchFiguresFromReadme(readme), `${ROOT}docs`)), await writeFaultChart(faultFiguresFromReadme(readme), `${ROOT}docs`)];
for (const path of written) console.log(`wrote ${path.slice(ROOT.length)}`);
