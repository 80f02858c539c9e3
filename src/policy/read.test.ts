import { describe, expect, it } from 'vitest';
import {
  makeCompiledArrangement,
  makeProduct,
  makeReader,
  type ProductOverrides,
} from '../../test/fixtures/builders.js';
import { renderBanner } from '../markings/index.js';
import type { Product } from '../products/index.js';
import {
  type CompiledArrangement,
  type Decision,
  decideRead,
  type Reader,
  type RuleId,
  type RuleResult,
  WITHHELD_TITLE,
} from './index.js';

const AT = Date.parse('2026-06-01T00:00:00Z');
const READ_RULES: readonly RuleId[] = [
  'product.recalled',
  'need-to-know',
  'portion.clearance',
  'portion.nationality',
  'portion.caveats',
  'title.releasable',
  'tear-line.nonempty',
];

interface Read {
  readonly at?: number;
  readonly arrangement?: CompiledArrangement;
}

function read(
  product: Product | ProductOverrides,
  reader: Partial<Reader> = {},
  options: Read = {},
): Decision {
  const p = 'banner' in product ? product : makeProduct(product);
  return decideRead(p, makeReader(reader), {
    at: options.at ?? AT,
    ...(options.arrangement === undefined ? {} : { arrangement: options.arrangement }),
  });
}

function rule(decision: Decision, id: RuleId): RuleResult {
  const found = decision.rules.find((r) => r.rule === id);
  if (found === undefined) return expect.fail(`rule ${id} was not evaluated`);
  return found;
}

function keptIds(decision: Decision): string[] {
  return decision.derived?.portions.map((p) => p.id) ?? [];
}

function withheldReasons(decision: Decision, portionId: string): readonly { rule: RuleId; reason: string }[] {
  return decision.withheld.find((w) => w.portionId === portionId)?.reasons ?? [];
}

function bannerText(decision: Decision): string {
  const banner = decision.derived?.banner;
  if (banner === undefined) return expect.fail('no derived version');
  return renderBanner(banner, { originator: 'USA' });
}

describe('decideRead', () => {
  it('shows everything to a reader cleared for it', () => {
    const decision = read({ portions: [['SECRET//REL TO USA, GBR'], ['CONFIDENTIAL//REL TO USA, FVEY']] });
    expect(decision.effect).toBe('allow');
    expect(keptIds(decision)).toEqual(['p1', 'p2']);
    expect(decision.rules.map((r) => r.rule)).toEqual(READ_RULES);
    expect(decision.rules.every((r) => r.outcome === 'pass')).toBe(true);
  });

  describe('portion.clearance', () => {
    it('withholds a portion above the clearance', () => {
      const decision = read(
        { portions: [['SECRET//REL TO USA, GBR'], ['TOP SECRET//REL TO USA, GBR']] },
        { clearance: 'SECRET' },
      );
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.clearance', reason: 'TOP SECRET is above the clearance SECRET' },
      ]);
      expect(rule(decision, 'portion.clearance')).toEqual({
        rule: 'portion.clearance',
        outcome: 'withhold',
        reason: 'withholds 1 of 2 portions: p2',
      });
      expect(bannerText(decision)).toBe('SECRET//REL TO USA, GBR');
    });

    it("ranks national levels through the arrangement's equivalence table when one is given", () => {
      const product: ProductOverrides = {
        originator: 'GBR',
        author: 'analyst.gbr',
        portions: [['UK OFFICIAL-SENSITIVE//REL TO GBR, USA'], ['UK OFFICIAL//REL TO GBR, USA']],
      };
      const arrangement = makeCompiledArrangement({
        equivalences: { GBR: { 'UK OFFICIAL-SENSITIVE': 'CONFIDENTIAL' } },
      });
      const reader: Partial<Reader> = { nationality: 'USA', clearance: 'RESTRICTED' };
      const mapped = read(product, reader, { arrangement });
      expect(keptIds(mapped)).toEqual(['p2']);
      expect(withheldReasons(mapped, 'p1')).toEqual([
        { rule: 'portion.clearance', reason: 'UK OFFICIAL-SENSITIVE is above the clearance RESTRICTED' },
      ]);
      expect(keptIds(read(product, reader))).toEqual(['p1', 'p2']);
    });

    it('denies by default a reader whose clearance is not a level of the common scale', () => {
      for (const clearance of ['UK SECRET', 'COSMIC', '']) {
        const decision = read({ portions: [['UNCLASSIFIED'], ['SECRET//REL TO USA, GBR']] }, { clearance });
        expect(decision.effect).toBe('deny');
        expect(decision.deniedBy).toEqual(['tear-line.nonempty']);
        expect(decision.derived).toBeNull();
        expect(decision.withheld.map((w) => w.portionId)).toEqual(['p1', 'p2']);
        expect(withheldReasons(decision, 'p1').map((r) => r.rule)).toEqual(['portion.clearance']);
      }
    });
  });

  describe('portion.nationality', () => {
    it('withholds a portion not releasable to the reader nationality', () => {
      const decision = read({ portions: [['SECRET//REL TO USA, GBR'], ['SECRET//REL TO USA, CAN']] });
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.nationality', reason: 'REL TO USA, CAN does not cover GBR on 2026-06-01' },
      ]);
    });

    it('withholds NOFORN material from foreign nationals and shows it to nationals of the originator', () => {
      const product: ProductOverrides = { portions: [['SECRET//NOFORN'], ['SECRET//REL TO USA, GBR']] };
      const foreign = read(product, { nationality: 'GBR' });
      expect(keptIds(foreign)).toEqual(['p2']);
      expect(withheldReasons(foreign, 'p1')).toEqual([
        { rule: 'portion.nationality', reason: 'marked NOFORN' },
      ]);
      const national = read(product, { id: 'reader.usa', nationality: 'USA' });
      expect(keptIds(national)).toEqual(['p1', 'p2']);
      expect(bannerText(national)).toBe('SECRET//NOFORN');
    });

    it('lets originator nationals read classified material with no REL TO', () => {
      const product: ProductOverrides = { portions: [['CONFIDENTIAL']] };
      expect(read(product, { nationality: 'USA' }).effect).toBe('allow');
      expect(withheldReasons(read(product), 'p1')).toEqual([
        { rule: 'portion.nationality', reason: 'classified and not marked releasable (no REL TO)' },
      ]);
    });

    it('reads community membership at the decision date', () => {
      const product: ProductOverrides = { portions: [['SECRET//REL TO USA, NATO']] };
      const swede: Partial<Reader> = { id: 'reader.swe', nationality: 'SWE' };
      const before = read(product, swede, { at: Date.parse('2024-03-06T12:00:00Z') });
      expect(before.effect).toBe('deny');
      expect(withheldReasons(before, 'p1')).toEqual([
        { rule: 'portion.nationality', reason: 'REL TO USA, NATO does not cover SWE on 2024-03-06' },
      ]);
      expect(read(product, swede, { at: Date.parse('2024-03-07T00:00:00Z') }).effect).toBe('allow');
    });
  });

  describe('portion.caveats', () => {
    it('shows a caveat only to a reader holding that exact token', () => {
      const product: ProductOverrides = {
        portions: [['TOP SECRET//SI//REL TO USA, GBR'], ['TOP SECRET//SI-G//REL TO USA, GBR']],
      };
      const si = read(product, { caveats: ['SI'] });
      expect(keptIds(si)).toEqual(['p1']);
      expect(withheldReasons(si, 'p2')).toEqual([
        { rule: 'portion.caveats', reason: 'caveat SI-G not held' },
      ]);
      const siG = read(product, { caveats: ['SI-G'] });
      expect(keptIds(siG)).toEqual(['p2']);
      expect(keptIds(read(product, { caveats: ['SI', 'SI-G'] }))).toEqual(['p1', 'p2']);
    });

    it('names every caveat that is missing', () => {
      const decision = read(
        { portions: [['TOP SECRET//HCS/SI/TK//REL TO USA, GBR'], ['UNCLASSIFIED']] },
        { caveats: ['SI'] },
      );
      expect(withheldReasons(decision, 'p1')).toEqual([
        { rule: 'portion.caveats', reason: 'caveat HCS, TK not held' },
      ]);
    });
  });

  describe('need-to-know', () => {
    const limited: ProductOverrides = {
      needToKnow: { communities: ['ct-cell'], arrangements: ['usa-gbr-sigint'] },
    };

    it('denies a reader outside the communities and arrangements the product names', () => {
      const decision = read(limited, { communities: ['cyber-desk'] });
      expect(decision.effect).toBe('deny');
      expect(decision.deniedBy).toEqual(['need-to-know']);
      expect(rule(decision, 'need-to-know').reason).toBe('need-to-know limited to ct-cell, usa-gbr-sigint');
      expect(decision.derived).toBeNull();
    });

    it('allows a reader in a named community', () => {
      const decision = read(limited, { communities: ['ct-cell'] });
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'need-to-know').reason).toBe('need-to-know through ct-cell');
    });

    it('allows a reader working under a named arrangement', () => {
      const decision = read(limited, { arrangements: ['usa-gbr-sigint'] });
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'need-to-know').reason).toBe('need-to-know through usa-gbr-sigint');
    });

    it('passes when the product names no community of interest', () => {
      expect(rule(read({ needToKnow: { communities: [] } }), 'need-to-know')).toEqual({
        rule: 'need-to-know',
        outcome: 'pass',
        reason: 'the product names no community of interest',
      });
    });
  });

  describe('product.recalled', () => {
    it('denies reading a recalled product', () => {
      const decision = read({ recalled: true, version: 2 });
      expect(decision.effect).toBe('deny');
      expect(decision.deniedBy).toEqual(['product.recalled']);
      expect(rule(decision, 'product.recalled').reason).toBe('prod-1 v2 was recalled by its originator');
      expect(decision.derived).toBeNull();
    });
  });

  describe('title.releasable', () => {
    it('replaces a title the reader may not see with a neutral one', () => {
      const decision = read({
        titleMarking: 'TOP SECRET//HCS//REL TO USA, GBR',
        portions: [['SECRET//REL TO USA, GBR']],
      });
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'title.releasable')).toEqual({
        rule: 'title.releasable',
        outcome: 'withhold',
        reason: 'title replaced: caveat HCS not held',
      });
      expect(decision.derived?.title).toBe(WITHHELD_TITLE);
      expect(decision.derived?.banner).toEqual(
        makeProduct({ portions: [['SECRET//REL TO USA, GBR']] }).portions[0]?.label,
      );
    });
  });

  describe('tear-line.nonempty', () => {
    it('denies when nothing is readable', () => {
      const decision = read({ portions: [['TOP SECRET//REL TO USA, GBR']] }, { clearance: 'SECRET' });
      expect(decision.effect).toBe('deny');
      expect(decision.deniedBy).toEqual(['tear-line.nonempty']);
      expect(rule(decision, 'tear-line.nonempty').reason).toBe('no portion is readable');
    });
  });

  it('withholds a portion for every rule it fails', () => {
    const decision = read(
      { portions: [['UNCLASSIFIED'], ['TOP SECRET//TK//NOFORN']] },
      { clearance: 'SECRET' },
    );
    expect(withheldReasons(decision, 'p2')).toEqual([
      { rule: 'portion.clearance', reason: 'TOP SECRET is above the clearance SECRET' },
      { rule: 'portion.nationality', reason: 'marked NOFORN' },
      { rule: 'portion.caveats', reason: 'caveat TK not held' },
    ]);
  });
});
