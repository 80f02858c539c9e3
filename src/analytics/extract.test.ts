import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbLabel } from '../../test/fixtures/label-arbitraries.js';
import { DEFAULT_REGISTRY, type Label, parseMarking } from '../markings/index.js';
import { type EntityType, extractEntities, refang } from './extract.js';

const SECRET: Label = parseMarking('SECRET//REL TO USA, GBR', DEFAULT_REGISTRY).label;

function found(text: string): [EntityType, string][] {
  return extractEntities([{ id: 'p1', text, label: SECRET }]).map((e) => [e.type, e.value]);
}

describe('extractEntities', () => {
  it.each<[string, string, [EntityType, string][]]>([
    ['an IPv4 address', 'Beacon to 203.0.113.17 every hour.', [['ipv4', '203.0.113.17']]],
    [
      'a defanged IPv4 address',
      'C2 at 198.51.100[.]23 and 192(.)0(.)2(.)1',
      [
        ['ipv4', '198.51.100.23'],
        ['ipv4', '192.0.2.1'],
      ],
    ],
    ['an IPv6 address', 'Fallback 2001:db8::8a2e:370:7334 seen.', [['ipv6', '2001:db8::8a2e:370:7334']]],
    [
      'a domain and a defanged one',
      'Hosts evil-update.example.com and cdn[.]badsite[.]co.uk',
      [
        ['domain', 'evil-update.example.com'],
        ['domain', 'cdn.badsite.co.uk'],
      ],
    ],
    [
      'a URL, defanged, without its host counted twice',
      'Payload at hxxps://files.example[.]org/x/loader.bin.',
      [['url', 'https://files.example.org/x/loader.bin']],
    ],
    [
      'an e-mail address, defanged',
      'Phish from billing[@]secure-mail.example.net today',
      [['email', 'billing@secure-mail.example.net']],
    ],
    [
      'hashes of each length',
      `md5 ${'a'.repeat(32)} sha1 ${'B'.repeat(40)} sha256 ${'c'.repeat(64)}`,
      [
        ['md5', 'a'.repeat(32)],
        ['sha1', 'b'.repeat(40)],
        ['sha256', 'c'.repeat(64)],
      ],
    ],
    ['a CVE id', 'Exploits cve-2024-3400 on the edge.', [['cve', 'CVE-2024-3400']]],
    ['decimal coordinates', 'Seen near 24.8615, 67.0099 at dusk', [['coordinates', '24.86150,67.00990']]],
    ['hemisphere coordinates', 'Camp at 33.8688S 151.2093E', [['coordinates', '-33.86880,151.20930']]],
    ['an MGRS reference', 'Vehicle at 42S XD 12345 67890 heading north', [['mgrs', '42SXD1234567890']]],
    ['an international phone number', 'Handler called +44 20 7946 0958 twice', [['phone', '+442079460958']]],
    [
      'dates in three forms',
      'On 2026-03-12, 14 March 2026 and April 2, 2026',
      [
        ['date', '2026-03-12'],
        ['date', '2026-03-14'],
        ['date', '2026-04-02'],
      ],
    ],
  ])('finds %s', (_what, text, expected) => {
    expect(found(text)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['a file name', 'See report.pdf and notes.docx'],
    ['a version number', 'Upgrade to 10.2.3.4.5 soon'],
    ['an impossible date', 'Dated 2026-02-30'],
    ['an address with an octet over 255', 'Bad 300.1.2.3'],
    ['coordinates off the globe', 'At 95.1234, 200.5678'],
    ['a hash of the wrong length', `abc ${'d'.repeat(33)}`],
  ])('finds nothing in %s', (_what, text) => {
    expect(found(text)).toEqual([]);
  });

  it('gives each entity its portion, position and the label of its portion', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            arbLabel(),
            fc.constantFrom('8.8.8.8', 'CVE-2021-44228', 'evil.example.com', '2026-01-05'),
          ),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.string({ maxLength: 20 }).filter((s) => !/[\w.:@[\]()+-]/.test(s)),
        (portions, filler) => {
          const input = portions.map(([label, indicator], i) => ({
            id: `p${i + 1}`,
            text: `${filler} seen ${indicator} ${filler}`,
            label,
          }));
          const entities = extractEntities(input);
          expect(entities).toHaveLength(input.length);
          for (const entity of entities) {
            const portion = input.find((p) => p.id === entity.portionId);
            expect(portion).toBeDefined();
            // An entity says no less than its portion: it carries exactly the portion's label.
            expect(entity.label).toBe(portion?.label);
            expect(portion?.text.slice(entity.start, entity.end)).toBe(entity.raw);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refangs what analysts defang, and leaves live text alone', () => {
    expect(refang('hxxp://a[.]b(.)c[dot]d/x[@]y')).toBe('http://a.b.c.d/x@y');
    fc.assert(
      fc.property(
        fc.string({ maxLength: 50 }).filter((s) => !/[[({]|hxxp|fxp/i.test(s)),
        (s) => {
          expect(refang(s)).toBe(s);
        },
      ),
    );
  });
});
