export { type ConfigSources, ENV_KEYS, loadConfig } from './load.js';
export { CONFIG_DEFAULTS, type Config, ConfigSchema } from './schema.js';
