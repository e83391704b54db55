/** Credential types: schemas, secret fields, JSON Schema export, validation issues, secret values, masking. */
import { describe, expect, test } from 'vitest';
import { credentialTypes, CredentialTypeRegistry, httpBearerCredential, maskCredentialData, mergeCredentialData, SECRET_MASK, smtpCredential, slackCredential } from '@flowpilot/vault';

describe('credential types', () => {
  test('the built-in types and their secret fields', () => {
    const secrets = Object.fromEntries(credentialTypes.list().map((type) => [type.type, type.secretFields]));
    expect(secrets).toEqual({
      httpBearer: ['token'],
      httpBasic: ['password'],
      httpHeader: ['value'],
      smtp: ['password'],
      openai: ['apiKey'],
      anthropic: ['apiKey'],
      gemini: ['apiKey'],
      slack: ['botToken', 'signingSecret'],
      notion: ['token'],
      googleServiceAccount: ['privateKey'],
      webhookSecret: ['secret'],
    });
  });

  test('JSON Schema export: an object schema whose secret fields are writeOnly passwords', () => {
    const info = credentialTypes.describeAll();
    expect(info).toHaveLength(11);
    const smtp = info.find((type) => type.type === 'smtp')!;
    expect(smtp).toMatchObject({ title: 'SMTP server', secretFields: ['password'] });
    const schema = smtp.schema as { type: string; required: string[]; properties: Record<string, Record<string, unknown>>; additionalProperties: boolean };
    expect(schema.type).toBe('object');
    expect(schema.required.sort()).toEqual(['host', 'password', 'port', 'secure', 'username']);
    expect(schema.properties.password).toMatchObject({ type: 'string', writeOnly: true, secret: true, format: 'password' });
    expect(schema.properties.host?.writeOnly).toBeUndefined();
    expect(schema.additionalProperties).toBe(false);
    const slack = info.find((type) => type.type === 'slack')!.schema as { required: string[]; properties: Record<string, Record<string, unknown>> };
    expect(slack.required).toEqual(['botToken']);
    expect(slack.properties.signingSecret).toMatchObject({ writeOnly: true });
  });

  test('validation names the field of each problem; unknown fields and unknown types are rejected', () => {
    expect(credentialTypes.check('smtp', { host: 'mail.example.com', port: 587, secure: false, username: 'bot', password: 'pw' })).toMatchObject({ ok: true });
    const bad = credentialTypes.check('smtp', { host: 'mail.example.com', port: 'x', secure: false, username: 'bot' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.issues.map((issue) => issue.path).sort()).toEqual(['data.password', 'data.port']);
    const extra = credentialTypes.check('httpBearer', { token: 't', tokn: 'typo' });
    expect(!extra.ok && extra.issues).toEqual([{ path: 'data.tokn', message: expect.stringContaining('tokn') }]);
    const basic = credentialTypes.check('httpBasic', { username: 'a:b', password: 'p' });
    expect(!basic.ok && basic.issues[0]?.path).toBe('data.username');
    expect(credentialTypes.check('nope', {})).toEqual({ ok: false, issues: [{ path: 'type', message: expect.stringContaining('unknown credential type "nope"') }] });
    expect(credentialTypes.check('googleServiceAccount', { clientEmail: 'not an email', privateKey: 'k' }).ok).toBe(false);
  });

  test('secret values: the secret fields and basic auth user:password; never non-secret fields', () => {
    expect(credentialTypes.secretValues('httpBasic', { username: 'alice', password: 'pw1' })).toEqual(['pw1', 'alice:pw1']);
    expect(credentialTypes.secretValues('smtp', { host: 'h', port: 25, secure: false, username: 'u', password: 'pw2' })).toEqual(['pw2']);
    expect(credentialTypes.secretValues('slack', { botToken: 'xoxb-1' })).toEqual(['xoxb-1']);
    // A type no longer registered: every string counts as secret.
    expect(credentialTypes.secretValues('gone', { a: 'x', n: 1 })).toEqual(['x']);
  });

  test('a registry refuses a type registered twice', () => {
    expect(() => new CredentialTypeRegistry([httpBearerCredential, httpBearerCredential])).toThrow(/twice/);
  });
});

describe('masking', () => {
  test('secret fields become the mask, whatever their length; others are shown', () => {
    expect(maskCredentialData(smtpCredential, { host: 'h', port: 25, secure: true, username: 'u', password: 'p' })).toEqual({ host: 'h', port: 25, secure: true, username: 'u', password: SECRET_MASK });
    expect(maskCredentialData(httpBearerCredential, { token: 'x'.repeat(500) })).toEqual({ token: SECRET_MASK });
    expect(maskCredentialData(undefined, { a: 'secret?', b: 2 })).toEqual({ a: SECRET_MASK, b: SECRET_MASK });
  });

  test('an update keeps a secret sent as the mask or omitted, replaces a new one, clears one sent as null', () => {
    const stored = { botToken: 'old-token', signingSecret: 'old-signing' };
    expect(mergeCredentialData(slackCredential, stored, { botToken: SECRET_MASK })).toEqual(stored);
    expect(mergeCredentialData(slackCredential, stored, {})).toEqual(stored);
    expect(mergeCredentialData(slackCredential, stored, { botToken: 'new', signingSecret: SECRET_MASK })).toEqual({ botToken: 'new', signingSecret: 'old-signing' });
    expect(mergeCredentialData(slackCredential, stored, { botToken: SECRET_MASK, signingSecret: null })).toEqual({ botToken: 'old-token' });
    // Non-secret fields come from the update only: an omitted optional one is cleared.
    const smtp = { host: 'old', port: 25, secure: false, username: 'u', password: 'pw', from: 'a@b.c' };
    expect(mergeCredentialData(smtpCredential, smtp, { host: 'new', port: 465, secure: true, username: 'u', password: SECRET_MASK })).toEqual({ host: 'new', port: 465, secure: true, username: 'u', password: 'pw' });
    expect(mergeCredentialData(smtpCredential, smtp, { ...smtp, password: SECRET_MASK, from: null })).toEqual({ host: 'old', port: 25, secure: false, username: 'u', password: 'pw' });
  });
});
