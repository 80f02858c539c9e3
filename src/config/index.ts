export { type ConfigSources, ENV_KEYS, loadConfig } from './load.js';
export { CONFIG_DEFAULTS, type Config, ConfigSchema, STREAM_DEFAULTS } from './schema.js';
