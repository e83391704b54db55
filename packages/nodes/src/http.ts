import { credentialParam, defineNodeType, FlowPilotError, NonRetryableError, type CredentialValue } from '@flowpilot/engine';
import { z } from 'zod';

/** Statuses worth retrying: the server may answer differently next time. */
const RETRYABLE_STATUSES = new Set([408, 429]);
const MAX_ERROR_BODY = 2048;
const MAX_REDIRECTS = 20;
/** Credential types the http node turns into an auth header. */
export const HTTP_CREDENTIAL_TYPES = ['httpBearer', 'httpBasic', 'httpHeader'] as const;

/** A non-2xx answer. Retryable for 5xx, 408 and 429; any other 4xx will not change on retry. */
export class HttpStatusError extends FlowPilotError {
  constructor(
    readonly status: number,
    message: string,
    body: unknown,
  ) {
    super('HTTP_STATUS', message, { retryable: status >= 500 || RETRYABLE_STATUSES.has(status), details: { status, body } });
    this.name = 'HttpStatusError';
  }
}

const paramsSchema = z.object({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']).default('GET'),
  url: z.url({ protocol: /^https?$/ }).describe('http(s) URL; may use {{ }}.'),
  headers: z.record(z.string(), z.string()).optional(),
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  body: z.unknown().optional().describe('A string is sent as is; anything else as JSON.'),
  timeoutMs: z.number().int().positive().optional(),
  responseType: z.enum(['auto', 'json', 'text']).default('auto'),
  failOnStatus: z.boolean().default(true).describe('Treat a non-2xx status as an error.'),
  credential: credentialParam(HTTP_CREDENTIAL_TYPES),
});

/** `http`: one HTTP request; outputs `{status, headers, body}`. */
export const httpNode = defineNodeType({
  type: 'http',
  title: 'HTTP request',
  description:
    'Sends an HTTP request and outputs {status, headers, body}. Non-2xx fails (retryable for 5xx, 408, 429) unless failOnStatus is false. A credential (bearer, basic or header) adds its auth header, sent to the URL\'s origin only.',
  category: 'integration',
  params: paramsSchema,
  async execute(ctx) {
    const params = ctx.params;
    const url = new URL(params.url);
    for (const [key, value] of Object.entries(params.query ?? {})) url.searchParams.append(key, String(value));
    const headers = new Headers(params.headers);
    let body: string | undefined;
    if (params.body !== undefined && params.body !== null && params.method !== 'GET' && params.method !== 'HEAD') {
      if (typeof params.body === 'string') body = params.body;
      else {
        body = JSON.stringify(params.body);
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      }
    }
    const auth = params.credential === undefined ? undefined : authHeader(await ctx.credential());
    const signal = params.timeoutMs === undefined ? ctx.signal : AbortSignal.any([ctx.signal, AbortSignal.timeout(params.timeoutMs)]);
    let response: Response;
    try {
      response = auth === undefined
        ? await fetch(url, { method: params.method, headers, body, signal, redirect: 'follow' })
        : await fetchWithAuth(url, { method: params.method, headers, body, signal }, auth);
    } catch (error) {
      throw requestError(error, params.timeoutMs, url, ctx.signal);
    }
    const responseBody = await readBody(response, params.responseType, params.method);
    const output = { status: response.status, headers: Object.fromEntries(response.headers), body: responseBody };
    if (!response.ok && params.failOnStatus) {
      throw new HttpStatusError(response.status, `${params.method} ${url.origin}${url.pathname} answered ${response.status} ${response.statusText}`.trim(), truncate(responseBody));
    }
    return output;
  },
});

/** The header a credential adds. */
function authHeader(credential: CredentialValue): [name: string, value: string] {
  const data = credential.data;
  switch (credential.type) {
    case 'httpBearer':
      return ['authorization', `Bearer ${String(data.token)}`];
    case 'httpBasic':
      return ['authorization', `Basic ${Buffer.from(`${String(data.username)}:${String(data.password)}`, 'utf8').toString('base64')}`];
    case 'httpHeader':
      return [String(data.name), String(data.value)];
    default:
      throw new NonRetryableError('CREDENTIAL_TYPE_MISMATCH', `credential "${credential.id}" is of type ${credential.type}; the http node accepts ${HTTP_CREDENTIAL_TYPES.join(', ')}`);
  }
}

/**
 * fetch with the credential's header, following redirects by hand so that the header goes to the
 * first URL's origin only (fetch drops `Authorization` on a cross-origin redirect, but not a custom
 * header such as `X-API-Key`). 303, and 301/302 after a POST, continue as a GET without a body.
 */
async function fetchWithAuth(first: URL, init: { method: string; headers: Headers; body: string | undefined; signal: AbortSignal }, [name, value]: [string, string]): Promise<Response> {
  let url = first;
  let { method, body } = init;
  for (let hop = 0; ; hop += 1) {
    const headers = new Headers(init.headers);
    if (url.origin === first.origin) headers.set(name, value);
    if (body === undefined && init.body !== undefined) headers.delete('content-type');
    const response = await fetch(url, { method, headers, body, signal: init.signal, redirect: 'manual' });
    const location = response.headers.get('location');
    if (![301, 302, 303, 307, 308].includes(response.status) || location === null) return response;
    if (hop >= MAX_REDIRECTS) throw new FlowPilotError('HTTP_NETWORK', `request to ${first.origin} failed: more than ${MAX_REDIRECTS} redirects`, { retryable: false });
    await response.body?.cancel();
    url = new URL(location, url);
    if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
    }
  }
}

async function readBody(response: Response, responseType: 'auto' | 'json' | 'text', method: string): Promise<unknown> {
  if (method === 'HEAD' || response.status === 204) return null;
  const text = await response.text();
  const isJson = responseType === 'json' || (responseType === 'auto' && /[/+]json\b/i.test(response.headers.get('content-type') ?? ''));
  if (!isJson || text === '') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (responseType === 'auto') return text;
    throw new FlowPilotError('HTTP_INVALID_JSON', `response is not valid JSON: ${(error as Error).message}`, { retryable: false });
  }
}

function requestError(error: unknown, timeoutMs: number | undefined, url: URL, callerSignal: AbortSignal): unknown {
  if (callerSignal.aborted) return callerSignal.reason;
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return new FlowPilotError('TIMEOUT', `request to ${url.origin} timed out after ${timeoutMs} ms`, { retryable: true });
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return new FlowPilotError('HTTP_NETWORK', `request to ${url.origin} failed: ${why}`, { retryable: true });
}

function truncate(body: unknown): unknown {
  if (typeof body === 'string') return body.length > MAX_ERROR_BODY ? `${body.slice(0, MAX_ERROR_BODY)}…` : body;
  const text = JSON.stringify(body) ?? '';
  return text.length > MAX_ERROR_BODY ? `${text.slice(0, MAX_ERROR_BODY)}…` : body;
}
