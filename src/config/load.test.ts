import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { createServices } from '../app/services.js';
import { isMemberAt } from '../markings/index.js';
import { DEFAULT_BACKOFF } from '../services/outbox-worker.js';
import { openStore } from '../store/index.js';
import { loadConfig } from './index.js';

const BASE = { dataDir: '/tmp/accord-config-test', partner: 'GBR' };

describe('loadConfig', () => {
  it('layers defaults < file < ACCORD_* environment < flags', () => {
    const config = loadConfig({
      file: { ...BASE, http: { port: 8000, host: '0.0.0.0' }, nodeName: 'from-file' },
      env: { ACCORD_PORT: '8001', ACCORD_NODE_NAME: 'from-env', PATH: '/usr/bin' },
      flags: { http: { port: 8002 } },
    });
    expect(config.http).toEqual({ host: '0.0.0.0', port: 8002, bodyLimitBytes: 1024 * 1024 });
    expect(config.nodeName).toBe('from-env');
    expect(config.auth.maxFailedLogins).toBe(5);
  });

  it('turns on the NATS bus from ACCORD_NATS_URL and refuses a URL that is not nats:// or tls://', () => {
    const config = loadConfig({ flags: BASE, env: { ACCORD_NATS_URL: 'nats://10.0.0.5:4222' } });
    expect(config.stream?.natsUrl).toBe('nats://10.0.0.5:4222');
    expect(loadConfig({ flags: BASE }).stream).toBeUndefined();
    const error = errorOf(() => loadConfig({ flags: BASE, env: { ACCORD_NATS_URL: 'http://x' } }));
    expect(error.code).toBe('CONFIG_INVALID');
  });

  it('is frozen all the way down', () => {
    const config = loadConfig({ flags: BASE });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('rejects an unknown key, naming it', () => {
    const error = errorOf(() => loadConfig({ file: { ...BASE, htpp: { port: 1 } } }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain("unknown field 'htpp'");
  });

  it('rejects an unknown ACCORD_ variable and a non-numeric port, naming the variable', () => {
    expect(errorOf(() => loadConfig({ flags: BASE, env: { ACCORD_PROT: '1' } })).message).toContain(
      'ACCORD_PROT',
    );
    expect(errorOf(() => loadConfig({ flags: BASE, env: { ACCORD_PORT: 'eighty' } })).message).toContain(
      'ACCORD_PORT must be a whole number',
    );
  });

  it('requires the partner and data directory (no defaults)', () => {
    expect(errorOf(() => loadConfig({ flags: { dataDir: '/tmp/x' } })).message).toContain(
      "missing field 'partner'",
    );
  });

  it('extends the marking registry with configured communities, caveats and partner codes', async () => {
    const config = loadConfig({
      flags: {
        ...BASE,
        markings: {
          communities: [
            { code: 'BALT', name: 'Baltic states', members: [{ partner: 'EST', from: '2004-03-29' }] },
          ],
          caveats: ['ORION'],
          countries: ['XKX'],
        },
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'accord-config-'));
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'accord.sqlite') });
    try {
      const { registry } = createServices(config, store);
      expect(isMemberAt(registry, 'BALT', 'EST', Date.parse('2026-01-01T00:00:00Z'))).toBe(true);
      expect(registry.caveats.has('ORION')).toBe(true);
      expect(registry.extraCountries.has('XKX')).toBe(true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sets the outbox poll interval and retry backoff from federation, by default as the worker had them', () => {
    const defaults = loadConfig({ flags: BASE }).federation;
    expect(defaults).toEqual({
      outboxIntervalMs: 5000,
      retryBaseMs: 1000,
      retryMaxMs: 15 * 60_000,
      gossipIntervalMs: 60_000,
    });
    // One backoff whether the worker is built by the node (from config) or directly (its default).
    expect({ baseMs: defaults.retryBaseMs, maxMs: defaults.retryMaxMs }).toEqual(DEFAULT_BACKOFF);
    const config = loadConfig({
      flags: BASE,
      env: {
        ACCORD_OUTBOX_INTERVAL_MS: '200',
        ACCORD_OUTBOX_RETRY_BASE_MS: '50',
        ACCORD_OUTBOX_RETRY_MAX_MS: '1000',
      },
    });
    expect(config.federation).toEqual({
      outboxIntervalMs: 200,
      retryBaseMs: 50,
      retryMaxMs: 1000,
      gossipIntervalMs: 60_000,
    });
  });

  it('refuses a federation timing out of bounds, or a first retry later than the longest', () => {
    expect(
      errorOf(() => loadConfig({ flags: BASE, env: { ACCORD_OUTBOX_INTERVAL_MS: '0' } })).message,
    ).toContain('outboxIntervalMs');
    expect(
      errorOf(() => loadConfig({ flags: BASE, env: { ACCORD_OUTBOX_RETRY_BASE_MS: '-5' } })).message,
    ).toContain('ACCORD_OUTBOX_RETRY_BASE_MS must be a whole number');
    const inverted = errorOf(() =>
      loadConfig({ flags: { ...BASE, federation: { retryBaseMs: 5000, retryMaxMs: 1000 } } }),
    );
    expect(inverted.code).toBe('CONFIG_INVALID');
    expect(inverted.message).toContain('retryBaseMs: 5000 is more than retryMaxMs 1000');
    expect(
      errorOf(() => loadConfig({ flags: { ...BASE, federation: { retryJitter: 1 } } })).message,
    ).toContain("unknown field 'retryJitter'");
  });

  it('rejects an impossible membership date in configured communities', () => {
    const error = errorOf(() =>
      loadConfig({
        flags: {
          ...BASE,
          markings: {
            communities: [
              { code: 'BALT', name: 'Baltic', members: [{ partner: 'EST', from: '2004-02-30' }] },
            ],
          },
        },
      }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/markings/);
  });
});
