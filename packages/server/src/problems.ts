/**
 * Errors as `application/problem+json` (RFC 9457) with a stable `code`. Every error path of the
 * API goes through `sendProblem`, and the error handler maps anything thrown — including fastify's
 * own body-parsing and limit errors — so no malformed request ever gets a 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { FlowPilotError, type ValidationIssue } from '@flowpilot/engine';

/** A problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  /** Validation issues, when the problem is an invalid workflow or request. */
  errors?: Array<Pick<ValidationIssue, 'code' | 'message' | 'nodeId' | 'path'> & Record<string, unknown>>;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** An error that is answered as a problem with this HTTP status. */
export class HttpProblem extends FlowPilotError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code, message, { retryable: false });
  }
}

/** The HTTP status for engine error codes that reach the API. */
const STATUS_BY_CODE: Record<string, number> = {
  WORKFLOW_NOT_FOUND: 404,
  WORKFLOW_EXISTS: 409,
  RUN_NOT_FOUND: 404,
  WORKFLOW_INVALID: 422,
  INVALID_RUN_STATE: 409,
  INVALID_INPUT: 422,
};

export function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return { type: `https://flowpilot.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`, title: TITLES[status] ?? 'Error', status, code, detail, ...extra };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(body);
}

/** Maps anything thrown in a route to a problem. */
export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const sqlState = (error as { code?: unknown }).code;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors = error.validation.map((issue) => ({
      code: 'INVALID_REQUEST',
      message: `${error.validationContext ?? 'request'}${issue.instancePath.replaceAll('/', '.')}: ${issue.message ?? 'invalid'}`,
      path: `${error.validationContext ?? 'request'}${issue.instancePath.replaceAll('/', '.')}`,
    }));
    return sendProblem(reply, problem(400, 'INVALID_REQUEST', errors[0]?.message ?? 'invalid request', { errors }));
  }
  // Plugins that build their own error bodies (the rate limiter) hand us a finished problem.
  const built = error as unknown as Partial<Problem> & { statusCode?: number };
  if (typeof built.type === 'string' && typeof built.code === 'string' && typeof built.status === 'number') {
    const { statusCode: _statusCode, ...body } = built;
    return sendProblem(reply, body as Problem);
  }
  if (error instanceof HttpProblem) return sendProblem(reply, problem(error.status, error.code, error.message, error.extra));
  if (error instanceof FlowPilotError) {
    const details = error.details as { errors?: Problem['errors'] } | undefined;
    return sendProblem(reply, problem(STATUS_BY_CODE[error.code] ?? 400, error.code, error.message, details?.errors === undefined ? {} : { errors: details.errors }));
  }
  // A unique key taken by a concurrent request (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_*): a conflict.
  if (sqlState === '23505' || (typeof sqlState === 'string' && /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/.test(sqlState))) {
    return sendProblem(reply, problem(409, 'CONFLICT', 'a concurrent request created the same resource; retry'));
  }
  // Values a database refuses (a NUL byte in text, a number out of range): the client's input, not a crash.
  if (typeof sqlState === 'string' && /^22[0-9A-Z]{3}$/.test(sqlState)) {
    return sendProblem(reply, problem(400, 'INVALID_REQUEST', `a value in the request cannot be stored: ${error.message}`));
  }
  const statusCode = (error as FastifyError).statusCode;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    // Fastify's own client errors: bad JSON, wrong content type, body too large, …
    const code = (error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'PAYLOAD_TOO_LARGE' : ((error as FastifyError).code ?? 'BAD_REQUEST').replace(/^FST_ERR_/, '');
    return sendProblem(reply, problem(statusCode, code, error.message));
  }
  if (isResponseSerializationError(error)) request.log.error({ err: error }, 'response did not match its schema');
  else request.log.error({ err: error }, 'unhandled error');
  return sendProblem(reply, problem(500, 'INTERNAL', 'internal error'));
}
