/** Seeded generators of malformed requests: path params, queries, bodies and content types. */

/** mulberry32: a small seeded PRNG, so a failing fuzz run can be replayed with its seed. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let x = this.#state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const ALPHABET = 'abcXYZ019_-.~ !"#$&\'()*+,/:;<=>?@[\\]^`{|}é中😀\u0000\u0001\u007f\u200b\ud800';

export function randomString(random: Random, max = 40): string {
  let out = '';
  const length = random.int(max + 1);
  for (let index = 0; index < length; index += 1) out += random.pick([...ALPHABET]);
  return out;
}

/** encodeURIComponent that survives lone surrogates (they become U+FFFD). */
export const encode = (text: string): string => encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));

const b64 = (text: string): string => Buffer.from(text).toString('base64url');

/** Values that break parsers: numbers out of range, wrong types, huge and odd strings. */
export function scalar(random: Random): string {
  return random.pick([
    () => '',
    () => '0',
    () => '-1',
    () => '1.5',
    () => '1e309',
    () => 'NaN',
    () => '9007199254740993',
    () => '99999999999999999999999',
    () => 'true',
    () => 'null',
    () => '[]',
    () => '{}',
    () => 'x'.repeat(random.pick([201, 501, 5_000, 60_000])),
    () => randomString(random),
    () => '%',
    () => '%FF',
    () => '%C3%28',
    () => '%00',
    () => '2026-13-45T25:61:00Z',
    () => '2026-01-01T00:00:00Z',
    () => '2026-01-01T00:00:00+25:00',
    () => '-271821-04-19T00:00:00Z',
    () => b64(JSON.stringify([random.pick([1e308, -1, 1.5, 0, Number.MAX_SAFE_INTEGER * 4]), randomString(random, 5)])),
    () => b64(JSON.stringify([randomString(random, 10)])),
    () => b64('[1e999,"x"]'),
    () => b64(random.pick(['[null]', '["\\u0000"]', '[{}]', '[[],[]]', '[]', 'not json', '[1,"a",3]'])),
  ])();
}

/** A path parameter: known ids (so handlers go deep) or junk, percent-encoded or raw escapes. */
export function pathParam(random: Random, known: readonly string[]): string {
  if (known.length > 0 && random.chance(0.35)) return random.pick(known);
  const value = random.chance(0.6) ? scalar(random) : randomString(random, 300);
  if (/^%/.test(value) && random.chance(0.5)) return value; // raw escapes, possibly invalid UTF-8
  return encode(value.replaceAll('/', random.pick(['/', '%2F', '\\'])));
}

/** A query string: the route's own keys with bad values, plus random keys, sometimes repeated. */
export function query(random: Random, keys: readonly string[]): string {
  const pairs: string[] = [];
  const count = random.int(5);
  for (let index = 0; index < count; index += 1) {
    const key = keys.length > 0 && random.chance(0.75) ? random.pick(keys) : randomString(random, 8);
    const value = scalar(random);
    const encodedValue = /^%/.test(value) && random.chance(0.5) ? value : encode(value);
    pairs.push(`${encode(key)}=${encodedValue}`);
  }
  if (random.chance(0.05)) pairs.push('&&==&');
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

/** A random JSON value of bounded depth. */
export function jsonValue(random: Random, depth = 3): unknown {
  const kind = random.int(depth <= 0 ? 5 : 7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random.chance(0.5);
    case 2:
      return random.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 2, 1000, 1001, -1000]);
    case 3:
      return randomString(random);
    case 4:
      return random.chance(0.1) ? 'y'.repeat(random.int(100_000)) : randomString(random, 8);
    case 5:
      return Array.from({ length: random.int(4) }, () => jsonValue(random, depth - 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let index = random.int(5); index > 0; index -= 1) object[random.chance(0.3) ? random.pick(KEYS) : randomString(random, 8)] = jsonValue(random, depth - 1);
      return object;
    }
  }
}

/** Keys the API knows, so random objects hit real code paths with wrong types. */
const KEYS = ['name', 'nodes', 'edges', 'input', 'version', 'priority', 'id', 'type', 'data', 'source', 'target', 'settings', 'vars', 'retry', 'onError', '__proto__', 'constructor'];

/** Workflow-shaped bodies with wrong types or odd node params. */
function workflowish(random: Random): unknown {
  const node = (): unknown => ({
    id: random.chance(0.7) ? `n${random.int(4)}` : jsonValue(random, 1),
    type: random.pick(['set', 'delay', 'webhook', 'schedule', 'if', 'http', 'subworkflow', 'forEach', 'loop', 'respond', 'fail', 'nope', 42]),
    data: random.chance(0.8) ? jsonValue(random, 2) : { path: randomString(random), cron: scalar(random), ms: jsonValue(random, 0), values: jsonValue(random, 2), url: scalar(random) },
    ...(random.chance(0.2) ? { retry: jsonValue(random, 1) } : {}),
    ...(random.chance(0.2) ? { timeoutMs: jsonValue(random, 0) } : {}),
  });
  return {
    name: random.chance(0.8) ? randomString(random, 20) : jsonValue(random, 1),
    nodes: random.chance(0.9) ? Array.from({ length: random.int(5) }, node) : jsonValue(random, 1),
    edges: Array.from({ length: random.int(4) }, () => ({ source: `n${random.int(5)}`, target: random.chance(0.8) ? `n${random.int(5)}` : jsonValue(random, 0), sourceHandle: random.chance(0.2) ? jsonValue(random, 0) : undefined })),
    ...(random.chance(0.2) ? { settings: jsonValue(random, 1) } : {}),
  };
}

/** Run-start bodies with wrong types. */
function runish(random: Random): unknown {
  const body: Record<string, unknown> = {};
  if (random.chance(0.7)) body.input = jsonValue(random, 2);
  if (random.chance(0.4)) body.version = random.chance(0.5) ? random.int(4) : jsonValue(random, 0);
  if (random.chance(0.3)) body.priority = random.chance(0.5) ? random.int(3000) - 1500 : jsonValue(random, 0);
  if (random.chance(0.2)) body[randomString(random, 6)] = 1;
  return body;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/merge-patch+json',
  'text/plain',
  'text/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  '*/*',
  ';;;',
  undefined,
];

/** A request body and its content type (either may be missing). */
export function body(random: Random): { body: Uint8Array | string | undefined; contentType: string | undefined } {
  const contentType = random.chance(0.5) ? 'application/json' : random.pick(CONTENT_TYPES);
  const shape = random.int(10);
  let text: string | Uint8Array | undefined;
  if (shape <= 2) text = JSON.stringify(random.chance(0.5) ? workflowish(random) : runish(random));
  else if (shape <= 4) text = JSON.stringify(jsonValue(random));
  else if (shape === 5) text = JSON.stringify(workflowish(random)).slice(0, random.int(60));
  else if (shape === 6) text = Uint8Array.from({ length: random.int(200) }, () => random.pick([0x7b, 0x22, 0x7d, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x00, random.int(256)]));
  else if (shape === 7) text = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff, 0xed, 0xa0, 0x80]), Buffer.from('","nodes":[]}')]);
  else if (shape === 8) text = random.chance(0.5) ? '' : randomString(random, 200);
  else text = undefined;
  return { body: text, contentType };
}
