// The generated sections of docs/ (the configuration tables, the metrics table, the fault suite's
// table) and the generated files (the pipeline file's JSON Schema) equal what `npm run docs` would
// write now.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatedFiles, generatedSections, readFaultRun, renderFaultTable, ROOT, sectionOf } from '../../../scripts/docs-sections.js';

describe('generated sections of docs/ are up to date (else: npm run docs)', () => {
  for (const section of generatedSections) {
    it(`${section.file}: ${section.name}`, async () => {
      const text = readFileSync(`${ROOT}${section.file}`, 'utf8');
      const written = sectionOf(text, section.name);
      expect(written, `${section.file} has no ${section.name} markers`).toBeDefined();
      expect(written, `${section.file}'s ${section.name} is stale: run npm run docs`).toBe(await section.render());
    });
  }

  for (const generated of generatedFiles) {
    it(generated.file, () => {
      expect(readFileSync(`${ROOT}${generated.file}`, 'utf8'), `${generated.file} is stale: run npm run docs`).toBe(generated.render());
    });
  }

  it('the fault figures say when, where and how they were measured, for every scenario', () => {
    const run = readFaultRun();
    expect(run.date).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(run.machine).toMatch(/GiB, Node v\d+/);
    expect(run.scenarios.map((row) => row.scenario.split(' ')[0])).toEqual(['1', '2', '2b', '3', '4', '5', '6', '7', '8']);
    expect(renderFaultTable(run.scenarios)).toContain('| 9 privacy under failure |');
  });
});
