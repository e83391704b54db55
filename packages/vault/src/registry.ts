/** The set of credential types a deployment knows: lookup, validation, JSON Schema and secret values. */
import { z } from 'zod';
import { builtinCredentialTypes, type CredentialType } from './credential-types.js';

/** What `GET /api/v1/credential-types` shows of a type. */
export interface CredentialTypeInfo {
  type: string;
  title: string;
  description: string;
  /** JSON Schema (draft 2020-12) of the data; secret fields say `secret: true` and `writeOnly: true`. */
  schema: Record<string, unknown>;
  secretFields: string[];
}

/** One problem with credential data: where (`data.port`) and what. */
export interface CredentialDataIssue {
  path: string;
  message: string;
}

export type CredentialDataCheck = { ok: true; data: Record<string, unknown> } | { ok: false; issues: CredentialDataIssue[] };

export class CredentialTypeRegistry {
  readonly #types = new Map<string, CredentialType>();

  constructor(types: Iterable<CredentialType> = builtinCredentialTypes) {
    for (const type of types) {
      if (this.#types.has(type.type)) throw new Error(`credential type "${type.type}" is registered twice`);
      this.#types.set(type.type, type);
    }
  }

  get(type: string): CredentialType | undefined {
    return this.#types.get(type);
  }

  list(): CredentialType[] {
    return [...this.#types.values()];
  }

  /** Validates data against the type's schema; issues name the field (`data.port`). */
  check(type: string, data: unknown): CredentialDataCheck {
    const definition = this.#types.get(type);
    if (definition === undefined) return { ok: false, issues: [{ path: 'type', message: `unknown credential type "${type}" (known: ${[...this.#types.keys()].join(', ')})` }] };
    const result = definition.schema.safeParse(data);
    if (result.success) return { ok: true, data: result.data as Record<string, unknown> };
    return {
      ok: false,
      issues: result.error.issues.map((issue) => {
        // An unknown key is reported at the object; name the key itself.
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
        const path = ['data', ...issue.path.map(String), ...(keys.length === 1 ? keys : [])].join('.');
        return { path, message: issue.message };
      }),
    };
  }

  describe(type: CredentialType): CredentialTypeInfo {
    return {
      type: type.type,
      title: type.title,
      description: type.description,
      schema: z.toJSONSchema(type.schema, { io: 'input' }) as Record<string, unknown>,
      secretFields: [...type.secretFields],
    };
  }

  /** Every type as the API lists it. */
  describeAll(): CredentialTypeInfo[] {
    return this.list().map((type) => this.describe(type));
  }

  /**
   * The secret strings of a credential: its secret field values and their derived forms (basic
   * auth's `user:password`). Runners scrub these — and their encodings — from what they record.
   */
  secretValues(type: string, data: Readonly<Record<string, unknown>>): string[] {
    const definition = this.#types.get(type);
    // An unknown type (removed since the credential was saved): treat every string as secret.
    if (definition === undefined) return Object.values(data).filter((value): value is string => typeof value === 'string' && value !== '');
    const values: string[] = [];
    for (const field of definition.secretFields) {
      const value = data[field];
      if (typeof value === 'string' && value !== '') values.push(value);
    }
    for (const value of definition.derivedSecrets?.(data) ?? []) if (value !== '') values.push(value);
    return values;
  }
}

/** The registry of the built-in types. */
export const credentialTypes = new CredentialTypeRegistry();
