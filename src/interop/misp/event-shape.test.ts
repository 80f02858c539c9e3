import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/fixtures/shared-data.js';
import { isAccordError } from '../../errors/index.js';
import { BUNDLED_TAXONOMY_DIR, loadTaxonomies, parseMispEvents, readTag, splitMachineTag } from './index.js';

const UUID = '0b9d8c7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e';

function pathOfFailure(input: unknown): string {
  try {
    parseMispEvents(input);
  } catch (error) {
    expect(isAccordError(error) && error.code).toBe('INPUT_INVALID');
    return String((error as { details: { path?: unknown } }).details.path);
  }
  return expect.fail('expected INPUT_INVALID');
}

describe('parseMispEvents', () => {
  it('accepts one event, an array of events and a REST response', () => {
    const one = { Event: { uuid: UUID, info: 'one' } };
    expect(parseMispEvents(one).map((e) => e.path)).toEqual(['/Event']);
    const other = { Event: { uuid: UUID.replace('0b9d', '1b9d'), info: 'two' } };
    expect(parseMispEvents([one, other]).map((e) => e.path)).toEqual(['/0/Event', '/1/Event']);
    expect(parseMispEvents({ response: [one, other] }).map((e) => e.path)).toEqual([
      '/response/0/Event',
      '/response/1/Event',
    ]);
  });

  it('reads numbers written as digit strings or numbers, and the older EventTag spelling', () => {
    const [event] = parseMispEvents({
      Event: {
        uuid: UUID.toUpperCase(),
        info: 'x',
        threat_level_id: '1',
        analysis: 2,
        distribution: '4',
        sharing_group_id: '9',
        timestamp: '1772449200',
        published: true,
        EventTag: [{ Tag: { name: 'tlp:red' } }],
        Attribute: [{ type: 'port', value: 443, to_ids: '1', distribution: 5 }],
      },
    });
    expect(event).toMatchObject({
      uuid: UUID,
      threatLevel: 1,
      analysis: 2,
      distribution: 4,
      sharingGroup: { id: '9', name: null },
      timestamp: 1772449200,
      tags: [{ name: 'tlp:red', path: '/Event/EventTag/0/Tag' }],
    });
    expect(event!.attributes[0]).toMatchObject({ value: '443', toIds: true, distribution: 5 });
  });

  it('names the JSON path of what has the wrong shape', () => {
    expect(pathOfFailure({ Events: [] })).toBe('/');
    expect(pathOfFailure({ Event: { info: 'no uuid' } })).toBe('/Event/uuid');
    expect(pathOfFailure({ Event: { uuid: 'not-a-uuid', info: 'x' } })).toBe('/Event/uuid');
    expect(pathOfFailure({ Event: { uuid: UUID, info: '' } })).toBe('/Event/info');
    expect(pathOfFailure({ Event: { uuid: UUID, info: 'x', date: '2026-13-45' } })).toBe('/Event/date');
    expect(pathOfFailure({ Event: { uuid: UUID, info: 'x', distribution: '7' } })).toBe(
      '/Event/distribution',
    );
    expect(pathOfFailure({ response: {} })).toBe('/response');
    expect(pathOfFailure([])).toBe('/');
    expect(pathOfFailure({ Event: { uuid: UUID, info: 'x', Tag: [{ colour: '#fff' }] } })).toBe(
      '/Event/Tag/0/name',
    );
    expect(
      pathOfFailure({
        Event: { uuid: UUID, info: 'x', Object: [{ name: 'file', Attribute: [{ type: 'md5' }] }] },
      }),
    ).toBe('/Event/Object/0/Attribute/0/value');
    // The same event twice in one file.
    expect(pathOfFailure([{ Event: { uuid: UUID, info: 'a' } }, { Event: { uuid: UUID, info: 'b' } }])).toBe(
      '/1/Event/uuid',
    );
  });
});

describe('readTag', () => {
  it('splits machine tags, predicates with colons included', () => {
    expect(splitMachineTag('tlp:ex:chr')).toEqual({ namespace: 'tlp', predicate: 'ex:chr', value: null });
    expect(splitMachineTag('admiralty-scale:source-reliability="a"')).toEqual({
      namespace: 'admiralty-scale',
      predicate: 'source-reliability',
      value: 'a',
    });
    expect(splitMachineTag('Phishing campaign')).toBeNull();
  });

  it('validates tags of shipped taxonomies and passes others through', async () => {
    const taxonomies = await loadTaxonomies();
    expect(readTag('PAP:WHITE', '/t', taxonomies)).toMatchObject({ kind: 'taxonomy', namespace: 'pap' });
    expect(readTag('osint:source-type="blog-post"', '/t', taxonomies)).toEqual({
      kind: 'other',
      name: 'osint:source-type="blog-post"',
    });
    expect(() => readTag('nato:classification="NX"', '/Event/Tag/3', taxonomies)).toThrow(
      /\/Event\/Tag\/3: tag 'nato:classification="NX"'/,
    );
  });
});

// The bundled taxonomies are a byte-for-byte copy of the team's reference data, when it is here.
const SHARED = sharedData('misp-taxonomies');
describe.skipIf(!existsSync(SHARED))('bundled taxonomies', () => {
  it('match ../shared/data/misp-taxonomies', () => {
    for (const namespace of ['tlp', 'PAP', 'admiralty-scale', 'nato', 'euci']) {
      const file = join(namespace, 'machinetag.json');
      expect(readFileSync(join(BUNDLED_TAXONOMY_DIR, file), 'utf8')).toBe(
        readFileSync(join(SHARED, file), 'utf8'),
      );
    }
  });
});
