/**
 * Running the store's statements on pooled clients, surviving dead connections: a call that hits
 * one runs again on another client when running it twice is harmless (see `read`, `transaction`).
 */
import type pg from 'pg';
import type { Row } from '../rows.js';
import { isConnectionError } from './connection.js';
import type { Exec } from './queries.js';
import { bind } from './sql.js';

export class PoolRunner {
  constructor(
    private readonly pool: pg.Pool,
    /** Retries on dead pooled connections: one per pooled client. */
    private readonly retries: number,
    private readonly onError: (error: unknown) => void,
    /** The store is closing: no more retries. */
    private readonly closed: () => boolean,
  ) {}

  /**
   * An operation that may run twice (a read, or a write whose repeat is harmless) on one pooled
   * client. When that client's connection turns out to be dead (the server restarted, an admin
   * terminated it), the client is destroyed and the operation runs again on another: at most once
   * per pooled client, so a pool full of dead connections drains. Failing to open a new connection
   * is final.
   */
  async read<T>(fn: (exec: Exec) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.pool.connect();
      client.on('error', this.onError);
      try {
        const result = await fn(execOn(client));
        client.off('error', this.onError);
        client.release();
        return result;
      } catch (error) {
        const lost = isConnectionError(error);
        client.off('error', this.onError);
        client.release(lost ? (error as Error) : undefined);
        if (lost && attempt < this.retries && !this.closed()) continue;
        throw error;
      }
    }
  }

  /** The store's own body in one transaction (run again when the connection was lost before COMMIT). */
  async write<T>(body: (exec: Exec) => Promise<T>): Promise<T> {
    return (await this.transaction(async (exec) => ({ value: await body(exec), woke: false }), true)).result;
  }

  /**
   * BEGIN … COMMIT on one pooled client. Run again on another client when the connection turns out
   * dead before anything of it can have run: BEGIN failed, or `rerun` (the body is the store's own,
   * all of it inside this transaction) and COMMIT was not sent. A failed COMMIT is never retried:
   * its outcome is unknown.
   */
  async transaction<T>(body: (exec: Exec) => Promise<{ value: T; woke: boolean }>, rerun: boolean): Promise<{ result: T; woke: boolean }> {
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.pool.connect();
      // A connection that dies between statements emits 'error' on the client: handled, the next statement fails.
      client.on('error', this.onError);
      let stage: 'begin' | 'body' | 'commit' = 'begin';
      try {
        await client.query('BEGIN');
        stage = 'body';
        const { value, woke } = await body(execOn(client));
        stage = 'commit';
        await client.query('COMMIT');
        client.off('error', this.onError);
        client.release();
        return { result: value, woke };
      } catch (error) {
        const lost = isConnectionError(error);
        const rollback = stage === 'begin' || lost ? undefined : await client.query('ROLLBACK').then(() => undefined, (failure: unknown) => failure);
        client.off('error', this.onError);
        // A client whose connection failed is destroyed, not returned to the pool.
        client.release(lost ? (error as Error) : (rollback as Error | undefined));
        const nothingRan = stage === 'begin' || (rerun && stage === 'body');
        if (lost && nothingRan && attempt < this.retries && !this.closed()) continue;
        throw error;
      }
    }
  }
}

/** Runs compiled statements on one client. */
function execOn(client: pg.PoolClient): Exec {
  return async (statement, values) => {
    const result = await client.query(bind(statement, values));
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };
}
