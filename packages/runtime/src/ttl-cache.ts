/**
 * Values read from the store and kept for a short time (workflow and workspace limits, webhook
 * signing secrets). Reads of one key in flight are shared: a batch of many attempts of one
 * workflow, or a burst of webhook requests, reads it once.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();
  readonly #loading = new Map<string, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly capacity = 10_000,
  ) {}

  /**
   * The cached value when younger than `maxAgeMs` (default: the TTL), else what `read` answers
   * (it gets the previous value, to fall back on), which is cached.
   */
  async get(key: string, read: (previous: V | undefined) => Promise<V>, maxAgeMs = this.ttlMs): Promise<V> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && Date.now() - entry.at < maxAgeMs) return entry.value;
    let loading = this.#loading.get(key);
    if (loading === undefined) {
      loading = read(entry?.value)
        .then((value) => {
          this.set(key, value);
          return value;
        })
        .finally(() => this.#loading.delete(key));
      this.#loading.set(key, loading);
    }
    return loading;
  }

  /** The cached value, however old. */
  peek(key: string): V | undefined {
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
