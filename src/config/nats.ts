/**
 * How a node daemon or an operator tool connects to NATS: servers, one
 * authentication method, TLS, timeouts and reconnection. The schema is the
 * `nats` section of the node configuration (`schema.ts`); `src/node/nats-options.ts`
 * turns a parsed value into nats.js `ConnectionOptions`, reading the files it names.
 *
 * Secrets (`pass`, `token`, and the contents of the seed/creds/key files) never
 * appear in issues or logs; use {@link redactNatsConnectionConfig} before logging.
 */
import { z } from 'zod';

/** URL schemes accepted in `url`: `nats://` (TLS when the server offers it) and `tls://` (TLS required). */
export const NATS_URL_SCHEMES = ['nats:', 'tls:'] as const;

/** The authentication methods, as named in issues and docs; at most one per connection. */
export const NATS_AUTH_METHODS = ['user/pass', 'token', 'nkeySeedFile', 'credsFile'] as const;
export type NatsAuthMethod = (typeof NATS_AUTH_METHODS)[number];

/** The comma-separated server list of `url`, trimmed, empty entries dropped. */
export function splitNatsUrls(url: string): string[] {
  return url
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** Problems with one server URL, as messages (empty when it is fine). Never echoes credentials. */
function urlProblems(entry: string): string[] {
  // userinfo (`user:pass@`) is a secret: say so without repeating the entry.
  if (entry.includes('@')) return ['a server URL carries credentials; put them in user/pass (or token), not in the URL'];
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(entry)?.[1]?.toLowerCase();
  if (scheme === undefined || !(NATS_URL_SCHEMES as readonly string[]).includes(`${scheme}:`)) {
    return [`"${entry}" must start with nats:// or tls:// (e.g. nats://127.0.0.1:4222)`];
  }
  let parsed: URL;
  try {
    parsed = new URL(entry);
  } catch {
    return [`"${entry}" is not a valid URL; expected ${scheme}://host[:port]`];
  }
  if (parsed.hostname === '') return [`"${entry}" has no host`];
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '') {
    return [`"${entry}" must be ${scheme}://host[:port], without a path or query`];
  }
  return [];
}

const nonEmpty = (what: string): z.ZodString => z.string().min(1, `${what} must not be empty`);

/** TLS settings for the client side of the connection. */
export const NatsTlsConfigSchema = z
  .object({
    /** PEM file of the CA(s) that sign the server certificate; absent → the system trust store. */
    caFile: nonEmpty('tls.caFile').optional(),
    /** PEM client certificate (chain) for mutual TLS; requires `keyFile`. */
    certFile: nonEmpty('tls.certFile').optional(),
    /** PEM private key of `certFile`; requires `certFile`. Keep it mode 0600. */
    keyFile: nonEmpty('tls.keyFile').optional(),
    /**
     * Start TLS before the server's INFO (needs `handshake_first` on the server,
     * nats-server 2.10.4 or later). @default false
     */
    handshakeFirst: z.boolean().default(false),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if (tls.certFile !== undefined && tls.keyFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'tls.certFile is set but tls.keyFile is missing: give both or neither' });
    }
    if (tls.keyFile !== undefined && tls.certFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'tls.keyFile is set but tls.certFile is missing: give both or neither' });
    }
  }, { when: (payload) => typeof payload.value === 'object' && payload.value !== null });

/** Reconnection after a lost connection. */
export const NatsReconnectConfigSchema = z
  .object({
    /** Reconnect attempts per server before giving up and closing; -1 retries forever. @default -1 */
    maxAttempts: z.number().int().min(-1, 'reconnect.maxAttempts must be -1 (forever) or ≥ 0').default(-1),
    /** Wait between attempts on the same server, ms (plus up to 100 ms jitter, 1000 ms with TLS). @default 2000 */
    waitMs: z.number().int().min(0).max(600_000).default(2000),
  })
  .strict();

/**
 * A NATS connection. At most one authentication method: `user`+`pass`, `token`,
 * `nkeySeedFile` or `credsFile` (none: the server must allow anonymous clients).
 */
export const NatsConnectionConfigSchema = z
  .object({
    /**
     * Server URL, or several separated by commas (tried in random order, and the
     * cluster's other members are learned from the server). `nats://host[:port]`
     * uses TLS when the server offers it; `tls://host[:port]` requires TLS. Port
     * 4222 when omitted. Credentials do not belong in the URL.
     */
    url: z.string().superRefine((url, ctx) => {
      const entries = splitNatsUrls(url);
      if (entries.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'url must name at least one server (nats://host:port)' });
        return;
      }
      for (const problem of entries.flatMap(urlProblems)) ctx.addIssue({ code: 'custom', message: problem });
    }),
    /** Connection name shown by the server (`nats server report connections`, /connz). @default none */
    name: nonEmpty('name').optional(),
    /** User name for user/password authentication; requires `pass`. */
    user: nonEmpty('user').optional(),
    /** Password (plain text; the server may store a bcrypt hash); requires `user`. Secret. */
    pass: nonEmpty('pass').optional(),
    /** Token for token authentication. Secret. */
    token: nonEmpty('token').optional(),
    /** File holding a user nkey seed (`SU…`, from `nk -gen user`); the server lists its public key. Keep it mode 0600. */
    nkeySeedFile: nonEmpty('nkeySeedFile').optional(),
    /** Credentials file (user JWT + nkey seed, from `nsc generate creds`) for decentralized JWT auth. Keep it mode 0600. */
    credsFile: nonEmpty('credsFile').optional(),
    /** TLS settings; present (even `{}`) → TLS is required. `tls://` URLs imply `{}`. */
    tls: NatsTlsConfigSchema.optional(),
    /** Time allowed to open the connection and complete the NATS handshake, ms. @default 5000 */
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
    /** Reconnection policy. @default { maxAttempts: -1, waitMs: 2000 } */
    reconnect: NatsReconnectConfigSchema.prefault({}),
    /**
     * Interval between client pings, ms; two unanswered pings mark the connection
     * stale and start a reconnect, so a dead server is noticed in about twice this.
     * @default 30000 (nats.js's own default is 120000)
     */
    pingIntervalMs: z.number().int().min(1000).max(3_600_000).default(30_000),
    /**
     * Replicas of every JetStream asset Esper creates (the jobs and events
     * streams, the membership, runs and seed-state KV buckets, the artifact
     * object store); an existing asset with fewer is raised (stream update),
     * never lowered. At most the number of servers with JetStream; 3 survives
     * the loss of one server, 5 of two.
     * @default 3 when the server reports a cluster of ≥ 3 servers with JetStream (its INFO), else 1
     */
    replicas: z.number().int().min(1, 'replicas must be 1 to 5').max(5, 'replicas must be 1 to 5 (JetStream allows at most 5)').optional(),
  })
  .strict()
  .superRefine(
    (config, ctx) => {
      if (config.user !== undefined && config.pass === undefined) {
        ctx.addIssue({ code: 'custom', path: ['pass'], message: 'user is set but pass is missing: give both or neither' });
      }
      if (config.pass !== undefined && config.user === undefined) {
        ctx.addIssue({ code: 'custom', path: ['user'], message: 'pass is set but user is missing: give both or neither' });
      }
      const methods = natsAuthMethods(config);
      if (methods.length > 1) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `choose one authentication method, not ${methods.length}: found ${methods.join(', ')} (at most one of user/pass, token, nkeySeedFile, credsFile)`,
        });
      }
      const schemes = new Set(
        splitNatsUrls(typeof config.url === 'string' ? config.url : '').map((entry) => entry.slice(0, entry.indexOf(':') + 1).toLowerCase()),
      );
      if (schemes.has('tls:') && schemes.has('nats:')) {
        ctx.addIssue({
          code: 'custom',
          path: ['url'],
          message: 'url mixes nats:// and tls:// servers; TLS is required for all of them or none, so use one scheme',
        });
      }
    },
    // Run even when a field already failed, so every problem is reported at once.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

/** A NATS connection configuration as written (defaults optional). */
export type NatsConnectionConfigInput = z.input<typeof NatsConnectionConfigSchema>;
/** A validated NATS connection configuration with defaults applied. */
export type NatsConnectionConfig = z.output<typeof NatsConnectionConfigSchema>;

/** The authentication methods a configuration sets (in canonical order); more than one is invalid. */
export function natsAuthMethods(config: Pick<NatsConnectionConfigInput, 'user' | 'pass' | 'token' | 'nkeySeedFile' | 'credsFile'>): NatsAuthMethod[] {
  const methods: NatsAuthMethod[] = [];
  if (config.user !== undefined || config.pass !== undefined) methods.push('user/pass');
  if (config.token !== undefined) methods.push('token');
  if (config.nkeySeedFile !== undefined) methods.push('nkeySeedFile');
  if (config.credsFile !== undefined) methods.push('credsFile');
  return methods;
}

const REDACTED = '[redacted]';

/** A copy safe to log: `pass` and `token` replaced by `[redacted]` (file paths are kept, their contents are never read here). */
export function redactNatsConnectionConfig(config: NatsConnectionConfig): NatsConnectionConfig {
  return {
    ...config,
    ...(config.pass === undefined ? {} : { pass: REDACTED }),
    ...(config.token === undefined ? {} : { token: REDACTED }),
  };
}
