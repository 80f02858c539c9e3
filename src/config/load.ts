import { AccordError } from '../errors/index.js';
import { createRegistry } from '../markings/index.js';
import { createValidator } from '../validation/index.js';
import { CONFIG_DEFAULTS, type Config, ConfigSchema } from './schema.js';

const validateConfig = createValidator<Config>(ConfigSchema, 'CONFIG_INVALID', 'config');

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prior = out[key];
    out[key] = isObject(prior) && isObject(value) ? merge(prior, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (isObject(value)) for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

/** Environment variables read, each with its config path. Only these `ACCORD_*` names are accepted. */
export const ENV_KEYS: Readonly<Record<string, { path: readonly string[]; type: 'string' | 'integer' }>> = {
  ACCORD_DATA_DIR: { path: ['dataDir'], type: 'string' },
  ACCORD_PARTNER: { path: ['partner'], type: 'string' },
  ACCORD_NODE_NAME: { path: ['nodeName'], type: 'string' },
  ACCORD_HOST: { path: ['http', 'host'], type: 'string' },
  ACCORD_PORT: { path: ['http', 'port'], type: 'integer' },
  ACCORD_PUBLIC_URL: { path: ['http', 'publicUrl'], type: 'string' },
  ACCORD_BODY_LIMIT: { path: ['http', 'bodyLimitBytes'], type: 'integer' },
  ACCORD_DATABASE_URL: { path: ['database', 'url'], type: 'string' },
  ACCORD_NATS_URL: { path: ['stream', 'natsUrl'], type: 'string' },
  ACCORD_STREAM_HEARTBEAT_SECONDS: { path: ['stream', 'heartbeatSeconds'], type: 'integer' },
  ACCORD_LOG_LEVEL: { path: ['log', 'level'], type: 'string' },
  ACCORD_OUTBOX_INTERVAL_MS: { path: ['federation', 'outboxIntervalMs'], type: 'integer' },
  ACCORD_GOSSIP_INTERVAL_MS: { path: ['federation', 'gossipIntervalMs'], type: 'integer' },
  ACCORD_OUTBOX_RETRY_BASE_MS: { path: ['federation', 'retryBaseMs'], type: 'integer' },
  ACCORD_OUTBOX_RETRY_MAX_MS: { path: ['federation', 'retryMaxMs'], type: 'integer' },
};

// Variables that belong to other parts (keys, tests) and are not configuration keys.
const ENV_IGNORED = new Set([
  'ACCORD_REQUIRE_SERVICES',
  'ACCORD_KEY_PASSPHRASE',
  'ACCORD_TEST_PG_URL',
  'ACCORD_CHAOS_MINUTES',
]);

function fromEnv(env: Readonly<Record<string, string | undefined>>): Json {
  let out: Json = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('ACCORD_') || raw === undefined || ENV_IGNORED.has(name)) continue;
    const key = ENV_KEYS[name];
    if (key === undefined) {
      throw new AccordError('CONFIG_INVALID', `unknown environment variable ${name}`, { path: name });
    }
    let value: unknown = raw;
    if (key.type === 'integer') {
      if (!/^\d+$/.test(raw))
        throw new AccordError('CONFIG_INVALID', `${name} must be a whole number`, { path: name });
      value = Number(raw);
    }
    out = merge(out, key.path.reduceRight<unknown>((acc, part) => ({ [part]: acc }), value) as Json);
  }
  return out;
}

/** The layers of configuration, lowest precedence first after the built-in defaults. */
export interface ConfigSources {
  /** Parsed contents of the config file, if any. */
  readonly file?: unknown;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags. */
  readonly flags?: Json;
}

/**
 * Builds the one typed configuration: defaults < file < ACCORD_* environment < flags,
 * validated (unknown keys rejected, naming the key) and frozen.
 */
export function loadConfig(sources: ConfigSources): Readonly<Config> {
  if (sources.file !== undefined && !isObject(sources.file)) {
    throw new AccordError('CONFIG_INVALID', 'config file must hold a JSON object', { path: '/' });
  }
  const merged = [
    sources.file as Json | undefined,
    fromEnv(sources.env ?? {}),
    sources.flags ?? {},
  ].reduce<Json>(
    (acc, layer) => (layer === undefined ? acc : merge(acc, layer)),
    JSON.parse(JSON.stringify(CONFIG_DEFAULTS)) as Json,
  );
  const config = validateConfig(merged);
  const { retryBaseMs, retryMaxMs } = config.federation;
  if (retryBaseMs > retryMaxMs) {
    // The schema checks each bound alone; a first retry later than the longest allowed makes no sense.
    throw new AccordError(
      'CONFIG_INVALID',
      `config /federation/retryBaseMs: ${retryBaseMs} is more than retryMaxMs ${retryMaxMs}`,
      { path: '/federation/retryBaseMs' },
    );
  }
  try {
    // Builds the registry once to reject what the schema cannot see (impossible dates, clashes).
    createRegistry(config.markings ?? {});
  } catch (error) {
    throw new AccordError(
      'CONFIG_INVALID',
      `config /markings: ${(error as Error).message}`,
      { path: '/markings' },
      { cause: error },
    );
  }
  return deepFreeze(config);
}
