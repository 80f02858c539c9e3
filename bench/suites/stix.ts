// STIX 2.1 import (issue 6): objects imported per second into SQLite through StixService.import
// (JSON.parse of the file text, the per-object STIX checks, the import plan, one transaction
// holding the raw objects and, for the one report of each bundle, a product made through the
// normal creation path with its audit entry), beside JSON.parse alone of the same bundle text in
// the same run. Bundles of 10,000 objects, shaped like a feed: indicators, malware, relationships
// and identities under TLP 2.0 and an Accord statement marking, and one report with two notes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from '../../src/app/services.js';
import { loadConfig } from '../../src/config/index.js';
import { markingsOfLabel, stixIdOf } from '../../src/interop/stix/index.js';
import { DEFAULT_REGISTRY, parseMarking } from '../../src/markings/index.js';
import { openStore } from '../../src/store/index.js';
import { type AsyncBenchCase, maxAsyncOperations, type Suite } from '../harness.js';

// One import file per transaction, as `accord import stix` runs it: a commit (an fsync of the WAL)
// per bundle, so bundles the size of a real feed file, not of a test fixture.
const BATCH = 10_000;
const T = '2026-11-26T12:00:00.000Z';
// The most distinct bundles built ahead; a longer run imports them again (versions already held).
const MAX_BUNDLES = 250;
const IMPORT_TARGET = { opsPerSec: 20_000, source: 'issue 6: STIX objects imported/s into SQLite' };

/** Bundle `k` as file text: BATCH objects with ids of their own. */
function bundleText(k: number): string {
  const label = parseMarking('(U//REL TO USA, GBR//TLP:GREEN)').label;
  const { refs, definitions } = markingsOfLabel(label, DEFAULT_REGISTRY);
  const marked = { object_marking_refs: refs };
  const stamp = { spec_version: '2.1', created: T, modified: T };
  const objects: Record<string, unknown>[] = [...definitions];
  const report = stixIdOf('report', `bench:${k}`);
  const notes = [0, 1].map((n) => stixIdOf('note', `bench:${k}:${n}`));
  objects.push({
    type: 'report',
    id: report,
    ...stamp,
    name: `Feed digest ${k}`,
    description: 'Indicators seen this week.',
    published: T,
    report_types: ['threat-report'],
    object_refs: notes,
    ...marked,
  });
  for (const [n, id] of notes.entries()) {
    objects.push({
      type: 'note',
      id,
      ...stamp,
      content: `Analyst note ${n}.`,
      object_refs: [report],
      ...marked,
    });
  }
  for (let i = objects.length; i < BATCH; i++) {
    const name = `bench:${k}:${i}`;
    switch (i % 4) {
      case 0:
        objects.push({
          type: 'indicator',
          id: stixIdOf('indicator', name),
          ...stamp,
          name: `C2 address ${i}`,
          indicator_types: ['malicious-activity'],
          pattern: `[ipv4-addr:value = '10.${k % 250}.${(i >> 8) % 250}.${i % 250}']`,
          pattern_type: 'stix',
          valid_from: T,
          ...marked,
          x_feed_score: i % 100,
        });
        break;
      case 1:
        objects.push({
          type: 'malware',
          id: stixIdOf('malware', name),
          ...stamp,
          name: `Implant ${i}`,
          is_family: false,
          malware_types: ['remote-access-trojan'],
          ...marked,
        });
        break;
      case 2:
        objects.push({
          type: 'relationship',
          id: stixIdOf('relationship', name),
          ...stamp,
          relationship_type: 'indicates',
          source_ref: stixIdOf('indicator', `bench:${k}:${i - 2}`),
          target_ref: stixIdOf('malware', `bench:${k}:${i - 1}`),
          ...marked,
        });
        break;
      default:
        objects.push({
          type: 'identity',
          id: stixIdOf('identity', name),
          ...stamp,
          name: `Source ${i}`,
          identity_class: 'organization',
          ...marked,
        });
    }
  }
  const bundle = { type: 'bundle', id: stixIdOf('bundle', `bench:${k}`), objects };
  return JSON.stringify(bundle);
}

const sqliteImport: AsyncBenchCase = {
  name: `STIX objects imported/s into SQLite (bundles of ${BATCH}: parse, check, plan, one transaction)`,
  ceiling: 'JSON.parse of the same bundle text',
  target: IMPORT_TARGET,
  warmupMs: 1000,
  latencySamples: 50,
  async setupAsync(plan) {
    const dir = mkdtempSync(join(tmpdir(), 'accord-bench-stix-'));
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'accord.sqlite') });
    const config = loadConfig({ flags: { dataDir: dir, partner: 'USA', log: { level: 'silent' } } });
    const services = createServices(config, store, () => Date.parse(T));
    await services.directory.createUser(null, {
      username: 'importer',
      displayName: 'importer',
      nationality: 'USA',
      clearance: 'TOP SECRET',
      caveats: [],
      communities: [],
      roles: ['analyst'],
    });
    const user = await store.users.getByUsername('importer');
    if (user === undefined) throw new Error('stix bench: no importer');
    const actor = { user, via: 'local' as const };
    const bundles = Math.min(MAX_BUNDLES, Math.ceil(maxAsyncOperations(60_000, plan) / BATCH) + 1);
    const texts = Array.from({ length: bundles }, (_, k) => bundleText(k));
    let imported = 0;
    let parsed = 0;
    return {
      // One operation is one object; each BATCH-th imports the bundle the last BATCH made up.
      run: async () => {
        if (++imported % BATCH !== 0) return undefined;
        const text = texts[(imported / BATCH) % texts.length] as string;
        return services.stix.import(actor, JSON.parse(text));
      },
      ceiling: async () => {
        if (++parsed % BATCH !== 0) return undefined;
        return JSON.parse(texts[(parsed / BATCH) % texts.length] as string);
      },
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const stixSuite: Suite = { name: 'stix', cases: [sqliteImport] };
