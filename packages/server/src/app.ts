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
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => sendProblem(reply, problem(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'FlowPilot API', version: '1', description: 'Workflows, runs, triggers and live events.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/v1/docs' });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return app;
}
