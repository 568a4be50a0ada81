// `npm run docs`: writes every generated section of docs/ (scripts/docs-sections.ts) from the code
// and the recorded figures, and says which pages changed. Nothing here measures anything. With
// --fault-chart (after a full fault run) it also redraws docs/faults-time.svg from the new table;
// the benchmark's charts are the bench's own to draw (they keep distributions the tables do not).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { faultFiguresFromReadme, writeFaultChart } from '../bench/charts.js';
import { generatedFiles, generatedSections, ROOT, withSection } from './docs-sections.js';

const changed: string[] = [];
for (const section of generatedSections) {
  const path = `${ROOT}${section.file}`;
  const before = readFileSync(path, 'utf8');
  const after = withSection(before, section.name, await section.render());
  if (after !== before) {
    writeFileSync(path, after);
    changed.push(`${section.file} (${section.name})`);
  }
}
for (const generated of generatedFiles) {
  const path = `${ROOT}${generated.file}`;
  const after = generated.render();
  if (!existsSync(path) || readFileSync(path, 'utf8') !== after) {
    writeFileSync(path, after);
    changed.push(generated.file);
  }
}
console.log(changed.length === 0 ? 'docs: every generated section is up to date' : `docs: rewrote ${changed.join(', ')}`);
if (process.argv.includes('--fault-chart')) {
  const chart = await writeFaultChart(faultFiguresFromReadme(readFileSync(`${ROOT}docs/reliability.md`, 'utf8')), `${ROOT}docs`);
  console.log(`docs: drew ${chart.slice(ROOT.length)}`);
}
