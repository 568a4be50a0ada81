// What a declared pipeline's reader costs per event beside the hand-written login path: CPU time
// per event (process.cpuUsage, which a busy machine disturbs less than the clock) of the whole
// transform (size check, JSON.parse, validate, masks, the subject's key), interleaved in rounds,
// the median kept. Pure CPU, no I/O: run in isolation, not inside `npm run bench`.
// Usage: npm run bench:reader [-- --events 20000 --rounds 9]
import { randomBytes, randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { builtinLogins } from '../src/config/builtin-pipelines.js';
import type { ColumnSpec, ColumnType, PipelineSpec } from '../src/model/pipeline.js';
import { compileEventReader, type EventReader } from '../src/transform/event-reader.js';
import { parseJson } from '../src/transform/login-event.js';
import { createMasker } from '../src/transform/mask.js';
import { messageToRow, messageToVaultedRow } from '../src/transform/message-to-row.js';
import { MAX_PARSED_BODY_BYTES } from '../src/transform/quarantine-record.js';
import type { InboundMessage } from '../src/model/message.js';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '9' } } });
const EVENTS = Number(args.events);
const ROUNDS = Number(args.rounds);

const column = (name: string, path: string, type: ColumnType, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({
  name,
  from: path === '$sent_date' ? { kind: 'sent_date' } : { kind: 'path', path: path.split('.') },
  type,
  required: true,
  nullable: false,
  pii: 'none',
  maskLabel: name,
  ...extra,
});

const LOGINS: PipelineSpec = builtinLogins('logins');

// A declared pipeline of the same width, nested paths and other types: two masks and a subject too.
const PAGE_VIEWS: PipelineSpec = {
  name: 'page_views',
  builtin: false,
  queue: 'page-views',
  table: { schema: null, name: 'page_views' },
  subject: ['visitor', 'id'],
  columns: [
    column('visitor_id', 'visitor.id', { kind: 'varchar', length: 64 }),
    column('masked_email', 'visitor.email', { kind: 'varchar', length: 256 }, { pii: 'mask' }),
    column('masked_ip', 'ip', { kind: 'ip' }, { pii: 'mask' }),
    column('url', 'page.url', { kind: 'text' }),
    column('duration_ms', 'duration_ms', { kind: 'integer' }),
    column('viewed_at', 'viewed_at', { kind: 'timestamptz' }),
    column('day', '$sent_date', { kind: 'date' }, { required: false }),
  ],
};

const hex = (n: number) => randomBytes(n).toString('hex');
const ip = () => (randomInt(4) === 0 ? `2001:db8::${randomInt(65536).toString(16)}` : `${randomInt(256)}.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}`);
const sentAtMs = Date.UTC(2024, 0, 15, 12);
const message = (body: string, i: number): InboundMessage => ({ messageId: `m-${i}`, body, sentAtMs: sentAtMs + i, receiveCount: 1 });

const logins = Array.from({ length: EVENTS }, (_, i) =>
  message(
    JSON.stringify({
      user_id: `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`,
      app_version: `${randomInt(10)}.${randomInt(20)}.${randomInt(10)}`,
      device_type: ['android', 'ios', 'web'][randomInt(3)],
      ip: ip(),
      locale: randomInt(5) === 0 ? null : 'RU',
      device_id: `${randomInt(1000)}-${randomInt(100)}-${randomInt(10000)}`,
    }),
    i,
  ),
);
const views = Array.from({ length: EVENTS }, (_, i) =>
  message(
    JSON.stringify({
      visitor: { id: hex(8), email: `${hex(4)}@example.com` },
      ip: ip(),
      page: { url: `https://example.com/${hex(6)}` },
      duration_ms: randomInt(100_000),
      viewed_at: new Date(sentAtMs - randomInt(1e6)).toISOString(),
    }),
    i,
  ),
);

const masker = createMasker(randomBytes(32), 'k1');
let sink = 0;

/** The caller's prelude, as message-to-row has it: the size first, then JSON. */
function generic(reader: EventReader): (m: InboundMessage) => void {
  return (m) => {
    if (Buffer.byteLength(m.body, 'utf8') > MAX_PARSED_BODY_BYTES) return;
    const parsed = parseJson(m.body);
    if (!parsed) return;
    const reading = reader(m, parsed.value);
    sink += reading.ok ? reading.row.values.length : 0;
  };
}

const contenders: { name: string; events: InboundMessage[]; run: (m: InboundMessage) => void }[] = [
  { name: 'logins, hand-written (messageToRow)', events: logins, run: (m) => void (sink += messageToRow(m, masker).kind.length) },
  { name: 'logins, generic reader', events: logins, run: generic(compileEventReader(LOGINS, masker, { originals: false })) },
  { name: 'logins, hand-written, vault on (messageToVaultedRow)', events: logins, run: (m) => void (sink += messageToVaultedRow(m, masker).originals.length) },
  { name: 'logins, generic reader, vault on', events: logins, run: generic(compileEventReader(LOGINS, masker)) },
  { name: 'page_views (declared, same width), generic reader', events: views, run: generic(compileEventReader(PAGE_VIEWS, masker, { originals: false })) },
];

function cpuNsPerEvent(contender: (typeof contenders)[number]): number {
  const start = process.cpuUsage();
  for (const m of contender.events) contender.run(m);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / contender.events.length;
}

for (const contender of contenders) cpuNsPerEvent(contender); // warm-up: every path compiled before timing
const samples = contenders.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  // A different order each round, so no contender always runs after the same one (GC debt moves).
  const order = contenders.map((_, i) => (i + round) % contenders.length);
  for (const i of order) samples[i]?.push(cpuNsPerEvent(contenders[i] as (typeof contenders)[number]));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const medians = samples.map(median);
const base = (i: number) => (i === 3 ? (medians[2] ?? NaN) : (medians[0] ?? NaN));

console.log(`${EVENTS} events x ${ROUNDS} rounds, Node ${process.version}, median CPU per event (checksum ${sink})\n`);
console.log('| transform | µs CPU / event | vs hand-written |');
console.log('|---|---|---|');
contenders.forEach((contender, i) => {
  const us = (medians[i] ?? NaN) / 1000;
  console.log(`| ${contender.name} | ${us.toFixed(2)} | ${((medians[i] ?? NaN) / base(i)).toFixed(3)} |`);
});
