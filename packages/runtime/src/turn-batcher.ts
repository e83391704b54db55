/**
 * Groups calls that arrive in the same turn of the event loop into one batch (one transaction):
 * under load — many webhook requests at once — each run start or audit entry then costs a share
 * of one commit instead of a commit of its own. A batch that fails is retried one item at a time,
 * so one bad item (a duplicate run id) fails alone.
 */
interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class TurnBatcher<I, O> {
  #pending: Array<Pending<I, O>> = [];
  #scheduled = false;

  /** `flush` handles a batch in one transaction and returns one result per item, in order. */
  constructor(
    private readonly flush: (items: readonly I[]) => Promise<O[]>,
    private readonly maxBatch = 200,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // A macrotask later: requests parsed in this turn join the batch.
      setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    this.#scheduled = false;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.maxBatch);
      await this.#run(batch);
    }
  }

  async #run(batch: ReadonlyArray<Pending<I, O>>): Promise<void> {
    try {
      const results = await this.flush(batch.map((entry) => entry.item));
      batch.forEach((entry, index) => entry.resolve(results[index]!));
      return;
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
    }
    for (const entry of batch) {
      try {
        entry.resolve((await this.flush([entry.item]))[0]!);
      } catch (error) {
        entry.reject(error);
      }
    }
  }
}
