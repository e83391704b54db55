/** Opaque pagination cursors: base64url of the last row's sort key. */
import { FlowPilotError } from '@flowpilot/engine';

export function encodeCursor(key: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Decodes a cursor made by `encodeCursor`; a tampered one is a clear `INVALID_CURSOR`. */
export function decodeCursor<T extends unknown[]>(cursor: string | undefined, shape: (key: unknown[]) => key is T): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && shape(key)) return key;
  } catch {
    // fall through
  }
  throw new FlowPilotError('INVALID_CURSOR', 'cursor is not one this API returned', { retryable: false });
}

export const isIdKey = (key: unknown[]): key is [string] => key.length === 1 && typeof key[0] === 'string';
export const isSeqKey = (key: unknown[]): key is [number] => key.length === 1 && Number.isSafeInteger(key[0]);
export const isTimeIdKey = (key: unknown[]): key is [number, string] => key.length === 2 && typeof key[0] === 'number' && typeof key[1] === 'string';

/** SQL LIKE pattern for a substring search, with wildcards in the query escaped. */
export function likePattern(query: string): string {
  return `%${query.toLowerCase().replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/**
 * One page from rows fetched with `LIMIT limit + 1`: the extra row only says there is more, and the
 * cursor is the sort key of the last item kept.
 */
export function pageOf<R, T>(rows: readonly R[], limit: number, toItem: (row: R) => T, keyOf: (item: T) => unknown[]): { items: T[]; nextCursor?: string } {
  const items = rows.slice(0, limit).map(toItem);
  const last = items.at(-1);
  return rows.length > limit && last !== undefined ? { items, nextCursor: encodeCursor(keyOf(last)) } : { items };
}
