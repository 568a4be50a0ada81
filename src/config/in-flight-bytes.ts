// --max-in-flight-bytes when the operator gives none: it depends on how answers are held to it.

const MIB = 1024 * 1024;

/**
 * Where answers are counted as they arrive: bodies in hand and the one answer being read past a
 * full budget (ten bodies of up to 1 MiB, counted twice) are what a burst of large bodies holds, so
 * the smaller budget is the lower peak (a hostile burst side by side: Node 20 171-180 MB against
 * 190-196 at 48 MiB, Node 24 177-190 against 186-207; docs/performance.md);
 * small events hold about 5 MB at the 2,000 messages a worker may have in hand.
 */
export const COUNTED_IN_FLIGHT_BYTES = 16 * MIB;
/** Where each receive reserves its worst case (twice ten bodies of the queue's maximum): two fit on a 1 MiB queue. */
export const RESERVED_IN_FLIGHT_BYTES = 48 * MIB;

export interface InFlightSettings {
  maxInFlightBytes?: number | undefined;
  answerBytes: 'reserve' | 'count';
  /** absent for commands that always use the lean client over JSON (demo) */
  sqsClient?: 'lean' | 'sdk' | undefined;
  sqsProtocol?: 'auto' | 'json' | 'query' | undefined;
}

/**
 * The operator's --max-in-flight-bytes, else the default for how answers are held: counted (the lean
 * client, --answer-bytes count) or reserved (--answer-bytes reserve, --sqs-client sdk, --sqs-protocol
 * query).
 */
export function inFlightBytesOf(settings: InFlightSettings): number {
  if (settings.maxInFlightBytes !== undefined) return settings.maxInFlightBytes;
  const counted = settings.answerBytes === 'count' && settings.sqsClient !== 'sdk' && settings.sqsProtocol !== 'query';
  return counted ? COUNTED_IN_FLIGHT_BYTES : RESERVED_IN_FLIGHT_BYTES;
}

/**
 * The limit where receives turn out to reserve after all: `auto` finding an endpoint that speaks only
 * the query protocol (LocalStack before 3.0), whose answers the lean client cannot count. The
 * operator's, else reserve's own: within count's 16 MiB a receive of ten 1 MiB bodies (20 MiB
 * reserved) went out only once nothing else was in hand or in flight, one receive at a time.
 */
export function reservingInFlightBytesOf(settings: InFlightSettings): number {
  return settings.maxInFlightBytes ?? RESERVED_IN_FLIGHT_BYTES;
}
