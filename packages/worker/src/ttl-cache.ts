/**
 * Values read from the store and kept for a short time (workflow and workspace limits). Reads of
 * one key in flight are shared: a batch of many attempts of one workflow reads it once.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();
  readonly #loading = new Map<string, Promise<void>>();

  constructor(
    private readonly ttlMs: number,
    private readonly capacity = 10_000,
  ) {}

  /** Reads `key` with `read` unless a value younger than the TTL is cached. */
  async refresh(key: string, read: (previous: V | undefined) => Promise<V>): Promise<void> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && Date.now() - entry.at < this.ttlMs) return;
    let loading = this.#loading.get(key);
    if (loading === undefined) {
      loading = read(entry?.value)
        .then((value) => this.set(key, value))
        .finally(() => this.#loading.delete(key));
      this.#loading.set(key, loading);
    }
    await loading;
  }

  get(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, at: Date.now() });
    // Insertion order: the first key is the oldest.
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
