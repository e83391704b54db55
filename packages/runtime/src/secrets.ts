/**
 * Secret scrubbing: every secret value an attempt resolved (through `ctx.credential()`) is replaced
 * by `***` in what the attempt leaves behind — its output, its error (message and details) and its
 * log lines — before a runner records or forwards any of it.
 *
 * Besides the value itself, forms in which a value naturally travels are scrubbed too: base64 and
 * base64url (HTTP basic auth, tokens in JSON web payloads), percent-encoding (query strings, form
 * bodies) and JSON string escaping (a JSON document echoed back as text). Longer matches win, so a
 * derived secret like `user:password` disappears as a whole.
 */
import type { ErrorInfo } from '@flowpilot/engine';

/** What a scrubbed secret is replaced by. */
export const SCRUBBED = '***';

/** The strings under which `value` may appear. */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const bytes = Buffer.from(value, 'utf8');
  // Padded (replaced whole), and unpadded: what a longer encoding starting with the value contains.
  const base64 = bytes.toString('base64');
  forms.add(base64);
  forms.add(base64.replace(/=+$/, ''));
  forms.add(bytes.toString('base64url'));
  forms.add(encodeURIComponent(value));
  forms.add(JSON.stringify(value).slice(1, -1));
  forms.delete('');
  return [...forms];
}

/** The secrets of one attempt, and scrubbing with them. */
export class AttemptSecrets {
  readonly #forms = new Set<string>();
  #pattern: RegExp | undefined;

  /** Adds secret values (their encoded forms are added with them). */
  add(values: Iterable<string>): void {
    for (const value of values) {
      if (value === '') continue;
      for (const form of secretForms(value)) this.#forms.add(form);
    }
    this.#pattern = undefined;
  }

  get size(): number {
    return this.#forms.size;
  }

  /** `text` with every secret form replaced by {@link SCRUBBED}. */
  scrubText(text: string): string {
    if (this.#forms.size === 0) return text;
    this.#pattern ??= new RegExp(
      [...this.#forms]
        .sort((a, b) => b.length - a.length)
        .map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.#pattern, SCRUBBED);
  }

  /**
   * A copy of a JSON-like value with secrets scrubbed from every string (keys included). Parts
   * without secrets are shared, not copied; a value without any is returned as is.
   */
  scrub<T>(value: T): T {
    if (this.#forms.size === 0) return value;
    return this.#scrubValue(value, 0) as T;
  }

  #scrubValue(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.scrubText(value);
    if (value === null || typeof value !== 'object' || depth > 200) return value;
    if (Array.isArray(value)) {
      let changed = false;
      const items = value.map((item) => {
        const scrubbed = this.#scrubValue(item, depth + 1);
        changed ||= scrubbed !== item;
        return scrubbed;
      });
      return changed ? items : value;
    }
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype !== Object.prototype && prototype !== null) {
      // Errors and other objects a node may return: recorded as JSON, so scrub what JSON shows.
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return this.#scrubValue((value as { toJSON(): unknown }).toJSON(), depth + 1);
      if (value instanceof Error) return { name: this.scrubText(value.name), message: this.scrubText(value.message) };
    }
    let changed = false;
    const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
      const scrubbedKey = this.scrubText(key);
      const scrubbed = this.#scrubValue(item, depth + 1);
      changed ||= scrubbed !== item || scrubbedKey !== key;
      return [scrubbedKey, scrubbed] as const;
    });
    return changed ? Object.fromEntries(entries) : value;
  }

  /** An error with its message and details scrubbed. */
  scrubError(error: ErrorInfo): ErrorInfo {
    if (this.#forms.size === 0) return error;
    const out: ErrorInfo = { ...error, message: this.scrubText(error.message) };
    if (error.details !== undefined) out.details = this.scrub(error.details);
    return out;
  }
}
