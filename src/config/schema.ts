import Type, { type Static } from 'typebox';

/** The node's configuration. Unknown keys are rejected; secrets have no defaults. */
export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, description: 'directory holding the SQLite file and node state' }),
    partner: Type.String({
      pattern: '^[A-Z]{3}$',
      description: 'the partner this node belongs to (ISO 3166-1 alpha-3)',
    }),
    nodeName: Type.String({ minLength: 1, maxLength: 100 }),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
        /** Public base URL when behind TLS termination; turns on Secure cookies when https. */
        publicUrl: Type.Optional(Type.String({ format: 'uri' })),
      },
      { additionalProperties: false },
    ),
    database: Type.Object(
      {
        /** `postgres://…` for PostgreSQL; absent means the embedded SQLite file in dataDir. */
        url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
      },
      { additionalProperties: false },
    ),
    attachments: Type.Object(
      { maxBytes: Type.Integer({ minimum: 1, maximum: 512 * 1024 * 1024 }) },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      {
        sessionTtlMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
        /** Failed logins for one username (or from one address) within the window before login is refused. */
        maxFailedLogins: Type.Integer({ minimum: 1, maximum: 1000 }),
        failedLoginWindowMinutes: Type.Integer({ minimum: 1, maximum: 24 * 60 }),
      },
      { additionalProperties: false },
    ),
    /**
     * Request rate limits (issue 10), counted per process in fixed windows: each replica of a node
     * counts its own. Over a limit the node answers 429 with a problem naming the limit and a
     * Retry-After header.
     */
    rateLimits: Type.Object(
      {
        /** Sign-in attempts (POST /api/v1/auth/login), right or wrong, counted per address and per username. */
        login: Type.Object(
          {
            perAddress: Type.Integer({ minimum: 1, maximum: 100_000 }),
            perUsername: Type.Integer({ minimum: 1, maximum: 100_000 }),
            windowSeconds: Type.Integer({ minimum: 1, maximum: 24 * 60 * 60 }),
          },
          { additionalProperties: false },
        ),
        /** Writes (POST, PUT, PATCH, DELETE) per signed-in user, whichever session or token carries them. */
        writes: Type.Object(
          {
            perUser: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
            windowSeconds: Type.Integer({ minimum: 1, maximum: 24 * 60 * 60 }),
          },
          { additionalProperties: false },
        ),
        /** Envelopes into POST /federation/v1/inbox per sending partner (the partner the header names, at its address). */
        federation: Type.Object(
          {
            perPartner: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
            windowSeconds: Type.Integer({ minimum: 1, maximum: 24 * 60 * 60 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    /** Additions to the built-in marking registry: communities with dated membership, caveats, partner codes. */
    markings: Type.Optional(
      Type.Object(
        {
          communities: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  code: Type.String({ pattern: '^[A-Z]{2}$|^[A-Z]{4,8}$' }),
                  name: Type.String({ minLength: 1, maxLength: 200 }),
                  members: Type.Array(
                    Type.Object(
                      {
                        partner: Type.String({ pattern: '^[A-Z]{3}$' }),
                        from: Type.String({ format: 'date' }),
                        until: Type.Optional(Type.String({ format: 'date' })),
                      },
                      { additionalProperties: false },
                    ),
                    { maxItems: 500 },
                  ),
                },
                { additionalProperties: false },
              ),
              { maxItems: 100 },
            ),
          ),
          caveats: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z]+$' }), { maxItems: 100 })),
          countries: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z]{3}$' }), { maxItems: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** How the outbox worker delivers releases to partners (DESIGN.md §2.5). */
    federation: Type.Object(
      {
        /** How often the worker looks for due deliveries; a committed release also wakes it at once. */
        outboxIntervalMs: Type.Integer({ minimum: 10, maximum: 60 * 60_000 }),
        /** The first retry's delay: the n-th retry of a delivery waits about min(retryMaxMs, retryBaseMs · 2^n). */
        retryBaseMs: Type.Integer({ minimum: 10, maximum: 60 * 60_000 }),
        /** The longest wait between two attempts; bounds how late a partner back online gets its backlog. */
        retryMaxMs: Type.Integer({ minimum: 10, maximum: 24 * 60 * 60_000 }),
        /** How often the node fetches its partners' signed audit tree heads and checks them (issue 5 gossip). */
        gossipIntervalMs: Type.Integer({ minimum: 10, maximum: 24 * 60 * 60_000 }),
      },
      { additionalProperties: false },
    ),
    /** The live stream (issue 7): GET /api/v1/stream and the event bus behind it. */
    stream: Type.Optional(
      Type.Object(
        {
          /** A comment line is sent to each client this often, so proxies keep the connection open. */
          heartbeatSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
          /** How many events are kept for clients resuming with Last-Event-ID. */
          logSize: Type.Optional(Type.Integer({ minimum: 10, maximum: 10_000_000 })),
          /** `nats://…`: the bus is NATS JetStream, shared by every replica of this node; absent means in-process. */
          natsUrl: Type.Optional(Type.String({ pattern: '^(nats|tls)://' })),
          /** The JetStream stream name; every replica of one node must name the same. */
          natsStream: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
        },
        { additionalProperties: false },
      ),
    ),
    log: Type.Object(
      { level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** Everything but the data directory and partner, which `accord init` writes. */
export const CONFIG_DEFAULTS = {
  nodeName: 'accord',
  http: { host: '127.0.0.1', port: 7401, bodyLimitBytes: 1024 * 1024 },
  database: {},
  attachments: { maxBytes: 10 * 1024 * 1024 },
  auth: { sessionTtlMinutes: 8 * 60, maxFailedLogins: 5, failedLoginWindowMinutes: 15 },
  // Login: ten tries a minute for one username stops guessing; an address gets more, since users
  // behind one proxy or NAT share it. Writes and envelopes: far above what a person or a partner's
  // outbox sends, low enough that a runaway script or a flooding peer is cut off.
  rateLimits: {
    login: { perAddress: 60, perUsername: 10, windowSeconds: 60 },
    writes: { perUser: 600, windowSeconds: 60 },
    federation: { perPartner: 6000, windowSeconds: 60 },
  },
  federation: {
    outboxIntervalMs: 5000,
    retryBaseMs: 1000,
    retryMaxMs: 15 * 60_000,
    gossipIntervalMs: 60_000,
  },
  log: { level: 'info' },
} as const;

/** The stream settings a config without a `stream` section runs with. */
export const STREAM_DEFAULTS = { heartbeatSeconds: 15, logSize: 10_000 } as const;
