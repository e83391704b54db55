/**
 * Credential types: each is a zod object schema whose secret fields carry `.meta({ secret: true })`
 * (they also say `writeOnly` and `format: password` in the JSON Schema, so an editor renders them as
 * password inputs). The schema is what the API validates on write and what the editor turns into a
 * form; the secret fields are what the API masks and what runs scrub from their records.
 */
import { z } from 'zod';

/** Metadata marking a secret field. */
const SECRET_META = { secret: true, writeOnly: true, format: 'password' } as const;

/** A required secret string. */
export const secretString = (description: string): z.ZodString => z.string().min(1).max(16_384).meta({ ...SECRET_META, description });

/** A credential type: its name, a title for the editor, its schema and which fields are secret. */
export interface CredentialType {
  readonly type: string;
  readonly title: string;
  readonly description: string;
  readonly schema: z.ZodObject;
  /** Names of the fields whose values are secret (read from the schema's `secret` metadata). */
  readonly secretFields: readonly string[];
  /**
   * Further strings made of secret values that an integration sends as a whole (basic auth's
   * `user:password`): scrubbed like the fields themselves, with their encoded forms.
   */
  derivedSecrets?(data: Readonly<Record<string, unknown>>): string[];
}

/** Declares a credential type; its secret fields are taken from the schema's metadata. */
export function defineCredentialType(spec: Omit<CredentialType, 'secretFields'>): CredentialType {
  return { ...spec, secretFields: secretFieldsOf(spec.schema) };
}

function secretFieldsOf(schema: z.ZodObject): string[] {
  const fields: string[] = [];
  for (const [name, field] of Object.entries(schema.shape)) {
    let inner: z.ZodType = field as z.ZodType;
    // `secretString(…).optional()` keeps the metadata on the inner schema.
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
    if (inner.meta()?.secret === true || (field as z.ZodType).meta()?.secret === true) fields.push(name);
  }
  return fields;
}

const url = () => z.url({ protocol: /^https?$/ }).max(2000);
const text = (max = 500) => z.string().min(1).max(max);

export const httpBearerCredential = defineCredentialType({
  type: 'httpBearer',
  title: 'HTTP bearer token',
  description: 'Sent as `Authorization: Bearer <token>`.',
  schema: z.strictObject({ token: secretString('The bearer token.') }),
});

export const httpBasicCredential = defineCredentialType({
  type: 'httpBasic',
  title: 'HTTP basic auth',
  description: 'Sent as `Authorization: Basic base64(username:password)`.',
  schema: z.strictObject({ username: text().refine((value) => !value.includes(':'), 'must not contain ":"'), password: secretString('The password.') }),
  derivedSecrets: (data) => [`${String(data.username)}:${String(data.password)}`],
});

export const httpHeaderCredential = defineCredentialType({
  type: 'httpHeader',
  title: 'HTTP header',
  description: 'A header sent with every request, e.g. `X-API-Key: <value>`.',
  schema: z.strictObject({
    name: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$/, 'must be an HTTP header name'),
    value: secretString('The header value.'),
  }),
});

export const smtpCredential = defineCredentialType({
  type: 'smtp',
  title: 'SMTP server',
  description: 'An SMTP login for sending mail.',
  schema: z.strictObject({
    host: text(253),
    port: z.number().int().min(1).max(65_535),
    secure: z.boolean().describe('TLS from the start (port 465); false uses STARTTLS when offered.'),
    username: text(),
    password: secretString('The SMTP password.'),
    from: z.string().max(500).optional().describe('Default sender, e.g. "FlowPilot <bot@example.com>".'),
  }),
});

export const openaiCredential = defineCredentialType({
  type: 'openai',
  title: 'OpenAI-compatible API',
  description: 'An API key for OpenAI or a compatible server (set baseUrl).',
  schema: z.strictObject({ apiKey: secretString('The API key.'), baseUrl: url().optional(), organization: text(200).optional() }),
});

export const anthropicCredential = defineCredentialType({
  type: 'anthropic',
  title: 'Anthropic API',
  description: 'An Anthropic API key.',
  schema: z.strictObject({ apiKey: secretString('The API key.'), baseUrl: url().optional() }),
});

export const geminiCredential = defineCredentialType({
  type: 'gemini',
  title: 'Google Gemini API',
  description: 'A Gemini API key.',
  schema: z.strictObject({ apiKey: secretString('The API key.'), baseUrl: url().optional() }),
});

export const slackCredential = defineCredentialType({
  type: 'slack',
  title: 'Slack app',
  description: 'A bot token, and the signing secret for verifying Slack requests.',
  schema: z.strictObject({ botToken: secretString('The bot token (xoxb-…).'), signingSecret: secretString('The signing secret.').optional() }),
});

export const notionCredential = defineCredentialType({
  type: 'notion',
  title: 'Notion integration',
  description: 'An internal integration token.',
  schema: z.strictObject({ token: secretString('The integration token.') }),
});

export const googleServiceAccountCredential = defineCredentialType({
  type: 'googleServiceAccount',
  title: 'Google service account',
  description: 'A service account key (client email and private key from its JSON key file).',
  schema: z.strictObject({
    clientEmail: z.email().max(500),
    privateKey: secretString('The PEM private key ("-----BEGIN PRIVATE KEY-----…").'),
    projectId: text(200).optional(),
  }),
});

export const webhookSecretCredential = defineCredentialType({
  type: 'webhookSecret',
  title: 'Webhook signing secret',
  description: 'The HMAC-SHA256 secret a webhook trigger checks `X-FlowPilot-Signature` with (instead of a `secret` in the workflow).',
  schema: z.strictObject({ secret: secretString('At least 8 characters.').min(8) }),
});

/** Every built-in credential type. */
export const builtinCredentialTypes: readonly CredentialType[] = [
  httpBearerCredential,
  httpBasicCredential,
  httpHeaderCredential,
  smtpCredential,
  openaiCredential,
  anthropicCredential,
  geminiCredential,
  slackCredential,
  notionCredential,
  googleServiceAccountCredential,
  webhookSecretCredential,
];
