/**
 * The dashboard server's options: one strict schema, defaults inside, every
 * problem listed at once (ESPER_CONFIG_INVALID).
 */
import { z } from 'zod';
import { parseFrozen } from '../contracts/parse-config.ts';

/** Default port of `esper dashboard`. */
export const DEFAULT_DASHBOARD_PORT = 8642;
/** Default address: loopback only. */
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

export const DashboardServerOptionsSchema = z
  .object({
    /** Address to bind. @default '127.0.0.1' */
    host: z.string().min(1).max(255).default(DEFAULT_DASHBOARD_HOST),
    /** TCP port; 0 picks a free one. @default 8642 */
    port: z.number().int().min(0).max(65535).default(DEFAULT_DASHBOARD_PORT),
    /** Operator token enabling actions; absent: read-only. At least 8 characters. */
    token: z.string().min(8, 'the token must be at least 8 characters').max(1024).optional(),
    /** Largest request body, bytes. @default 16384 */
    bodyLimitBytes: z.number().int().min(256).max(1024 * 1024).default(16 * 1024),
    /** Most browsers at once. @default 1000 */
    maxClients: z.number().int().min(1).max(100_000).default(1000),
    /** Messages one slow browser may have queued before it is dropped. @default 512 */
    maxQueuedMessages: z.number().int().min(1).max(100_000).default(512),
    /** SSE keep-alive interval, ms. @default 15000 */
    keepAliveMs: z.number().int().min(0).max(300_000).default(15_000),
  })
  .strict();
export type DashboardServerOptions = z.infer<typeof DashboardServerOptionsSchema>;
export type DashboardServerOptionsInput = z.input<typeof DashboardServerOptionsSchema>;

/** Parses and freezes the options; throws a ConfigError listing every issue. */
export function parseDashboardOptions(input: unknown, problems: readonly string[] = []): Readonly<DashboardServerOptions> {
  return parseFrozen(DashboardServerOptionsSchema, input, 'dashboard options', { problems });
}
