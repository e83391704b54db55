import { describe, expect, it } from 'vitest';
import { isTransientStoreError, SequenceConflictError } from '@flowpilot/store';

describe('isTransientStoreError', () => {
  it('is true for failures a retried transaction can overcome', () => {
    for (const code of ['40P01', '40001', '55P03', '57P01', '08006', 'ECONNRESET', 'SQLITE_BUSY']) {
      expect(isTransientStoreError(Object.assign(new Error(code), { code })), code).toBe(true);
    }
    expect(isTransientStoreError(new SequenceConflictError('r', 1))).toBe(true);
    expect(isTransientStoreError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('is false for everything else', () => {
    for (const error of [new Error('boom'), Object.assign(new Error('dup'), { code: '23505' }), 'text', undefined, null]) {
      expect(isTransientStoreError(error)).toBe(false);
    }
  });
});
