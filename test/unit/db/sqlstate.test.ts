import { describe, expect, it } from 'vitest';
import { classifyFailure, spoilsSession } from '../../../src/db/sqlstate.js';

const pgError = (code: string) => Object.assign(new Error('refused'), { code });

describe('classifyFailure', () => {
  it.each([
    ['40001', 'transient'], // serialization failure
    ['40P01', 'transient'], // deadlock
    ['25006', 'transient'], // read-only: a standby after a failover
    ['57P01', 'transient'], // admin shutdown
    ['08006', 'transient'], // connection failure
    ['ECONNRESET', 'transient'],
    ['22001', 'data'], // too long
    ['23514', 'data'], // a CHECK of the user's
    ['42501', 'fatal'], // no privilege
    ['42P01', 'fatal'], // no table
    ['P0001', 'fatal'], // a trigger's RAISE
  ] as const)('%s is %s', (code, kind) => {
    expect(classifyFailure(pgError(code))).toEqual({ kind, code });
  });

  it('reads a dropped connection without a code as transient', () => {
    expect(classifyFailure(new Error('Connection terminated unexpectedly')).kind).toBe('transient');
  });
});

describe('spoilsSession', () => {
  it('discards a session that met a read-only server, and keeps the others', () => {
    expect(spoilsSession(pgError('25006'))).toBe(true);
    expect(spoilsSession(pgError('40001'))).toBe(false);
    expect(spoilsSession(pgError('23505'))).toBe(false);
    expect(spoilsSession(new Error('no code'))).toBe(false);
  });
});
