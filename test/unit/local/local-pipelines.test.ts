// demo --config and local --config read the file before any server starts: every pipeline with its
// embedded queue's name and the ${VAR} its file's queue is, and --input PIPELINE=FILE checked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { inputFiles, loadLocalPipelines, queueNameOf, singleInput } from '../../../src/local/local-pipelines.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/pipelines.yaml', import.meta.url));
const VIEWS = fileURLToPath(new URL('../../../examples/page-views.jsonl', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-local-pipelines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('loadLocalPipelines', () => {
  it("the example, with none of its ${VAR} set: each pipeline's queue name, variable and input", () => {
    const pipelines = loadLocalPipelines(EXAMPLE, {}, [`page_views=${VIEWS}`]);
    expect(pipelines.map((p) => [p.spec.name, p.queueName, p.queueVar, p.queueAsWritten, p.input?.bodies.length])).toEqual([
      ['logins', 'logins', 'LOGINS_QUEUE_URL', '${LOGINS_QUEUE_URL}', undefined],
      ['page_views', 'page-views', 'PAGE_VIEWS_QUEUE_URL', '${PAGE_VIEWS_QUEUE_URL}', 14],
    ]);
  });

  it('a queue written out, or with text around its variable, has no variable to set', () => {
    const path = file(
      'written.yaml',
      ['pipelines:', '  a:', '    builtin: true', '    queue: https://sqs.eu-west-1.amazonaws.com/123456789012/a', '  b_c:', '    builtin: true', '    queue: https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/b', ''].join('\n'),
    );
    // Two builtins would share user_logins: the file's own faults still count.
    expect(() => loadLocalPipelines(path, {})).toThrow(/the same table as pipeline a/);
    writeFileSync(path, ['pipelines:', '  a:', '    builtin: true', '    queue: https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/a', ''].join('\n'));
    expect(loadLocalPipelines(path, {}).map((p) => [p.queueName, p.queueVar])).toEqual([['a', undefined]]);
  });

  it('two pipelines on one ${VAR}: refused, as run would refuse their one queue', () => {
    const path = file(
      'shared.yaml',
      ['pipelines:', '  a:', '    builtin: true', '    queue: ${Q}', '  b:', '    queue: ${Q}', '    columns:', '      x: { from: x, type: text }', ''].join('\n'),
    );
    expect(() => loadLocalPipelines(path, {})).toThrow(`${path}: pipelines a and b both read \${Q}, and one queue feeds one pipeline: give each its own`);
  });
});

describe('inputFiles', () => {
  const names = ['logins', 'page_views'];
  it('PIPELINE=FILE, the file as given (an = in it too)', () => {
    expect(inputFiles(['page_views=a=b.jsonl', 'logins=/x/l.json'], names, 'f.yaml')).toEqual(new Map([['page_views', 'a=b.jsonl'], ['logins', '/x/l.json']]));
  });

  it.each([
    ['events.json', 'with --config, --input takes PIPELINE=FILE, once for each pipeline given events (f.yaml declares logins, page_views)'],
    ['page_views=', 'with --config, --input takes PIPELINE=FILE, once for each pipeline given events (f.yaml declares logins, page_views)'],
    ['=events.json', 'with --config, --input takes PIPELINE=FILE, once for each pipeline given events (f.yaml declares logins, page_views)'],
    ['page_view=v.jsonl', '--input page_view=…: f.yaml declares no pipeline page_view; did you mean page_views?'],
    ['orders=o.jsonl', '--input orders=…: f.yaml declares no pipeline orders; it declares logins, page_views'],
  ])('%s: refused', (value, message) => {
    expect(() => inputFiles([value], names, 'f.yaml')).toThrow(message);
  });

  it('one pipeline given twice: refused', () => {
    expect(() => inputFiles(['logins=a', 'logins=b'], names, 'f.yaml')).toThrow('--input logins=… is given twice: one file for each pipeline');
  });
});

describe('without --config', () => {
  it('one --input file at most', () => {
    expect(singleInput(undefined)).toBeUndefined();
    expect(singleInput(['a.json'])).toBe('a.json');
    expect(() => singleInput(['a.json', 'b.json'])).toThrow(/given more than once/);
  });

  it("a pipeline's queue is its name, _ as -", () => {
    expect(queueNameOf('page_views')).toBe('page-views');
  });
});
