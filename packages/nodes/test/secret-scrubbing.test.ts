/** Scrubbing: what an attempt that resolved a credential may leave behind (output, error, logs), and the scrubber itself. */
import { FlowPilotError, type RunEvent } from '@flowpilot/engine';
import { AttemptSecrets, runWorkflow, secretForms, type CredentialProvider, type LogEntry } from '@flowpilot/runtime';
import { describe, expect, test } from 'vitest';
import { fnNode, step, testRegistry, workflow } from './helpers.js';

const SECRET = 'sk-live "quoted" ü/+=&';
const provider: CredentialProvider = async (id) => ({ id, type: 'httpBearer', data: { token: SECRET }, secrets: [SECRET] });

/** `leaky {mode}`: resolves its credential, logs it, then returns or throws it in several forms. */
const leaky = fnNode('leaky', async (ctx) => {
  const { data } = await ctx.credential();
  const token = String(data.token);
  ctx.log('info', `using ${token}`, { token, nested: [{ [token]: Buffer.from(token).toString('base64') }] });
  const forms = { plain: token, base64: Buffer.from(token).toString('base64'), url: `https://x.test/?t=${encodeURIComponent(token)}`, json: JSON.stringify({ token }) };
  if (ctx.params.mode === 'throw') throw new FlowPilotError('LEAK', `failed with ${token}`, { retryable: false, details: forms });
  if (ctx.params.mode === 'throw-plain') throw new Error(`plain error ${token}`);
  return { ...forms, error: new Error(`returned ${token}`) };
});

async function run(mode: string, credentials: CredentialProvider | undefined = provider) {
  const { registry } = testRegistry(leaky);
  const events: RunEvent[] = [];
  const logs: LogEntry[] = [];
  const result = await runWorkflow(workflow([{ id: 'leak', type: 'leaky', data: { mode, credential: 'c1' } }]), {
    registry,
    credentials,
    onEvent: (event) => void events.push(event),
    onLog: (entry) => void logs.push(entry),
  });
  return { result, events, logs, text: JSON.stringify({ result, events, logs }) };
}

function expectNoForms(text: string): void {
  for (const form of secretForms(SECRET)) expect(text).not.toContain(form);
}

describe('secret scrubbing in attempts', () => {
  test('output: the value and its base64, URL-encoded and JSON-escaped forms become ***', async () => {
    const { result, logs, text } = await run('return');
    expect(result.status).toBe('succeeded');
    expect(step(result, 'leak').output).toEqual({ plain: '***', base64: '***', url: 'https://x.test/?t=***', json: '{"token":"***"}', error: { name: 'Error', message: 'returned ***' } });
    expect(logs).toEqual([expect.objectContaining({ message: 'using ***', fields: { token: '***', nested: [{ '***': '***' }] } })]);
    expectNoForms(text);
  });

  test('errors: message and details of a typed error, and the message of a plain one', async () => {
    const typed = await run('throw');
    expect(typed.result.error).toMatchObject({ code: 'LEAK', message: 'failed with ***', details: { plain: '***', base64: '***' } });
    expectNoForms(typed.text);
    const plain = await run('throw-plain');
    expect(plain.result.error).toMatchObject({ code: 'NODE_ERROR', message: 'plain error ***' });
    expectNoForms(plain.text);
  });

  test('a node that resolves nothing is left exactly as it was (same output object)', async () => {
    const output = { keep: 'me', token: SECRET };
    const { registry } = testRegistry(fnNode('plain', () => output));
    const result = await runWorkflow(workflow([{ id: 'p', type: 'plain' }]), { registry, credentials: provider });
    expect(step(result, 'p').output).toBe(output);
  });
});

describe('AttemptSecrets', () => {
  test('longest match first: a derived secret disappears whole; unchanged parts are shared', () => {
    const secrets = new AttemptSecrets();
    secrets.add(['pw', 'alice:pw', '']);
    expect(secrets.scrubText('alice:pw / pw / alice')).toBe('*** / *** / alice');
    const untouched = { a: [1, 'x'] };
    const value = { untouched, hit: 'pw' };
    const scrubbed = secrets.scrub(value);
    expect(scrubbed).toEqual({ untouched, hit: '***' });
    expect(scrubbed.untouched).toBe(untouched);
    expect(secrets.scrub(untouched)).toBe(untouched);
  });

  test('regex characters in a secret are matched literally', () => {
    const secrets = new AttemptSecrets();
    secrets.add(['a.b*c']);
    expect(secrets.scrubText('aXbbc a.b*c')).toBe('aXbbc ***');
  });

  test('errors keep their code and retryability; with no secrets nothing is copied', () => {
    const none = new AttemptSecrets();
    const info = { code: 'X', message: 'm', retryable: true, details: { a: 1 } };
    expect(none.scrubError(info)).toBe(info);
    const secrets = new AttemptSecrets();
    secrets.add(['m']);
    expect(secrets.scrubError(info)).toEqual({ code: 'X', message: '***', retryable: true, details: { a: 1 } });
  });
});
