/**
 * The HTTP server: one port for the REST API (`/api/v1`), webhooks (`/hooks`), health and metrics
 * (and later the editor). Built with fastify; request and response schemas are zod, which also
 * generates the OpenAPI document.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { errorHandler, problem, sendProblem } from './problems.js';

export interface AppOptions {
  /** Request body limit in bytes (default 1 MiB): larger bodies get 413. */
  bodyLimit?: number;
  logger?: FastifyServerOptions['logger'];
}

/** A fastify instance with FlowPilot's conventions: zod schemas, problem+json errors, OpenAPI. */
export async function createApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Clients may retry on their side; never let one slow request hold a connection forever.
    requestTimeout: 120_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Ids up to 200 characters are valid; let longer path segments reach the schema (a 400/404 problem).
    routerOptions: { maxParamLength: 1000 },
    // Malformed URLs (bad percent-encoding, …) are problems too.
    frameworkErrors: (error, _request, reply) => {
      void sendProblem(reply, problem(400, 'BAD_REQUEST', error.message));
    },
    // Errors Node's HTTP parser raises before a request exists (headers too large, garbage): a problem body.
    clientErrorHandler: (error, socket) => {
      const status = (error as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const body = JSON.stringify(problem(status, status === 431 ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST', error.message));
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else {
        socket.destroy(error);
      }
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => sendProblem(reply, problem(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'FlowPilot API', version: '1', description: 'Workflows, runs, triggers and live events.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An access token from POST /api/v1/auth/login, or an API key (`fp_…`): `Authorization: Bearer <token>`. Users pick a workspace with `X-FlowPilot-Workspace: <id>`.' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/v1/docs' });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return app;
}
