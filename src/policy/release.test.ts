import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type ArrangementOverrides,
  makeArrangement,
  makeCompiledArrangement,
  makeProduct,
  type ProductOverrides,
  signaturesFor,
} from '../../test/fixtures/builders.js';
import { makeLabel } from '../../test/fixtures/label-arbitraries.js';
import { type ArrangementDocument, parseArrangement } from '../arrangements/index.js';
import { renderBanner } from '../markings/index.js';
import { type Consent, type Product, parseProduct } from '../products/index.js';
import {
  compileArrangement,
  type Decision,
  decideRelease,
  RULE_IDS,
  type RuleId,
  type RuleResult,
  WITHHELD_TITLE,
} from './index.js';

const AT = Date.parse('2026-06-01T00:00:00Z');
const READ_ONLY_RULES: readonly RuleId[] = ['need-to-know', 'portion.clearance', 'portion.nationality'];
const RELEASE_RULES = RULE_IDS.filter((id) => !READ_ONLY_RULES.includes(id));

interface Release {
  readonly product?: Product;
  readonly arrangement?: ArrangementDocument;
  readonly sender?: string;
  readonly recipient?: string;
  readonly at?: number;
  readonly consents?: readonly Consent[];
}

/** USA releases to GBR under the default USA-GBR arrangement on 2026-06-01 unless told otherwise. */
function release(options: Release = {}): Decision {
  return decideRelease(
    options.product ?? makeProduct(),
    compileArrangement(options.arrangement ?? makeArrangement()),
    options.recipient ?? 'GBR',
    {
      at: options.at ?? AT,
      sender: options.sender ?? 'USA',
      ...(options.consents ? { consents: options.consents } : {}),
    },
  );
}

function releaseOf(
  product: ProductOverrides,
  arrangement: ArrangementOverrides = {},
  rest: Release = {},
): Decision {
  return release({ product: makeProduct(product), arrangement: makeArrangement(arrangement), ...rest });
}

function rule(decision: Decision, id: RuleId): RuleResult {
  const found = decision.rules.find((r) => r.rule === id);
  if (found === undefined) return expect.fail(`rule ${id} was not evaluated`);
  return found;
}

function expectDeniedBy(decision: Decision, id: RuleId, reason: string | RegExp): void {
  expect(decision.effect).toBe('deny');
  expect(decision.derived).toBeNull();
  expect(decision.deniedBy).toContain(id);
  expect(rule(decision, id).outcome).toBe('fail');
  expect(rule(decision, id).reason).toMatch(reason);
}

function keptIds(decision: Decision): string[] {
  return decision.derived?.portions.map((p) => p.id) ?? [];
}

function withheldReasons(decision: Decision, portionId: string): readonly { rule: RuleId; reason: string }[] {
  return decision.withheld.find((w) => w.portionId === portionId)?.reasons ?? [];
}

function bannerText(decision: Decision, originator = 'USA'): string {
  const banner = decision.derived?.banner;
  if (banner === undefined) return expect.fail('no derived version');
  return renderBanner(banner, { originator });
}

describe('decideRelease', () => {
  it('allows a release when every rule passes', () => {
    const decision = release();
    expect(decision.effect).toBe('allow');
    expect(decision.deniedBy).toEqual([]);
    expect(decision.rules.every((r) => r.outcome === 'pass')).toBe(true);
    expect(keptIds(decision)).toEqual(['p1']);
    expect(decision.withheld).toEqual([]);
  });

  describe('arrangement.active', () => {
    it('denies under a draft arrangement', () => {
      expectDeniedBy(
        release({ arrangement: makeArrangement({ status: 'draft' }) }),
        'arrangement.active',
        /is draft/,
      );
    });

    it('denies under a suspended or terminated arrangement', () => {
      expectDeniedBy(
        release({ arrangement: makeArrangement({ status: 'suspended' }) }),
        'arrangement.active',
        /is suspended/,
      );
      expectDeniedBy(
        release({ arrangement: makeArrangement({ status: 'terminated' }) }),
        'arrangement.active',
        /usa-gbr-test v1 is terminated/,
      );
    });

    it('denies when a party has not signed the current version', () => {
      const decision = release({ arrangement: makeArrangement({ unsignedBy: ['GBR'] }) });
      expectDeniedBy(decision, 'arrangement.active', /not signed by GBR for its current version/);
    });

    it('denies when the parties signed an earlier version of the terms', () => {
      const earlier = makeArrangement({ scope: { ceiling: 'SECRET' } });
      // The ceiling was raised after signing: the slots name the old version hash.
      const amended = parseArrangement({ ...earlier, scope: { ...earlier.scope, ceiling: 'TOP SECRET' } });
      const decision = release({ arrangement: amended });
      expectDeniedBy(decision, 'arrangement.active', /not signed by USA, GBR/);
      expect(release({ arrangement: { ...amended, signatures: signaturesFor(amended) } }).effect).toBe(
        'allow',
      );
    });

    it('denies before the arrangement takes effect', () => {
      const decision = release({ at: Date.parse('2024-12-31T23:59:59.999Z') });
      expectDeniedBy(decision, 'arrangement.active', /takes effect on 2025-01-01/);
      expect(release({ at: Date.parse('2025-01-01T00:00:00Z') }).effect).toBe('allow');
    });

    it('denies once the arrangement has expired', () => {
      const decision = release({ at: Date.parse('2030-12-31T23:59:59Z') });
      expectDeniedBy(decision, 'arrangement.active', /expired on 2030-12-31/);
      expect(release({ at: Date.parse('2030-12-31T23:59:58Z') }).effect).toBe('allow');
    });
  });

  describe('arrangement.parties', () => {
    it('denies when the sender is not a party', () => {
      const decision = releaseOf({ originator: 'FRA', author: 'analyst.fra' }, {}, { sender: 'FRA' });
      expectDeniedBy(decision, 'arrangement.parties', /^FRA is not party to usa-gbr-test$/);
    });

    it('denies when the recipient is not a party', () => {
      const decision = releaseOf({ portions: [['SECRET//REL TO USA, CAN']] }, {}, { recipient: 'CAN' });
      expectDeniedBy(decision, 'arrangement.parties', /^CAN is not party to usa-gbr-test$/);
    });

    it('denies a release to the sender itself', () => {
      expectDeniedBy(release({ recipient: 'USA' }), 'arrangement.parties', /USA cannot release to itself/);
    });

    it('names a non-party once when it would release to itself', () => {
      const decision = releaseOf(
        { originator: 'FRA', author: 'analyst.fra' },
        {},
        { sender: 'FRA', recipient: 'FRA' },
      );
      expectDeniedBy(decision, 'arrangement.parties', /^FRA is not party to usa-gbr-test$/);
    });
  });

  describe('product.recalled', () => {
    it('denies releasing a version its originator recalled', () => {
      const decision = release({ product: makeProduct({ recalled: true }) });
      expectDeniedBy(decision, 'product.recalled', /^prod-1 v1 was recalled by its originator$/);
      expect(decision.derived).toBeNull();
    });
  });

  describe('arrangement.suspension', () => {
    it('denies when the recipient is suspended', () => {
      const decision = release({ arrangement: makeArrangement({ suspendedParties: ['GBR'] }) });
      expectDeniedBy(decision, 'arrangement.suspension', /^GBR suspended under usa-gbr-test$/);
    });

    it('denies when the sender is suspended', () => {
      const decision = release({ arrangement: makeArrangement({ suspendedParties: ['USA'] }) });
      expectDeniedBy(decision, 'arrangement.suspension', /^USA suspended under usa-gbr-test$/);
    });
  });

  describe('scope', () => {
    it('denies a discipline outside the scope', () => {
      const decision = releaseOf({ discipline: 'HUMINT' }, { scope: { disciplines: ['SIGINT', 'CYBINT'] } });
      expectDeniedBy(decision, 'scope.discipline', /HUMINT is outside the scope of usa-gbr-test/);
    });

    it('denies a category outside the scope, naming it', () => {
      const decision = releaseOf(
        { categories: ['counterterrorism', 'organised-crime'] },
        { scope: { categories: ['counterterrorism', 'cyber'] } },
      );
      expectDeniedBy(decision, 'scope.categories', /outside the scope of usa-gbr-test: organised-crime$/);
    });
  });

  describe('third-party-rule', () => {
    const trilateral: ArrangementOverrides = { id: 'trilateral', parties: ['USA', 'GBR', 'CAN'] };
    const gbrProduct: ProductOverrides = {
      originator: 'GBR',
      author: 'analyst.gbr',
      portions: [['UK SECRET//REL TO GBR, USA, CAN']],
    };
    const consent = (overrides: Partial<Consent> = {}): Consent => ({
      originator: 'GBR',
      recipient: 'CAN',
      productId: 'prod-1',
      grantedAt: '2026-05-01T00:00:00Z',
      ...overrides,
    });
    const passOn = (
      product: ProductOverrides,
      arrangement: ArrangementOverrides = trilateral,
      rest: Release = {},
    ) => releaseOf(product, arrangement, { sender: 'USA', recipient: 'CAN', ...rest });

    it('denies passing on a product another partner originated without its consent', () => {
      expectDeniedBy(
        passOn(gbrProduct),
        'third-party-rule',
        /^GBR originated the product and has not consented to its release to CAN$/,
      );
    });

    it('allows passing it on with the originator consent for that recipient', () => {
      const decision = passOn({ ...gbrProduct, consents: [consent()] });
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'third-party-rule')).toEqual({
        rule: 'third-party-rule',
        outcome: 'pass',
        reason: 'GBR consented to release to CAN',
      });
    });

    it('accepts a consent held beside the product', () => {
      expect(passOn(gbrProduct, trilateral, { consents: [consent()] }).effect).toBe('allow');
    });

    it('does not accept a consent for another recipient, another product or from another partner', () => {
      for (const other of [
        consent({ recipient: 'AUS' }),
        consent({ productId: 'prod-2' }),
        consent({ originator: 'USA' }),
      ]) {
        expectDeniedBy(
          passOn({ ...gbrProduct, consents: [other] }),
          'third-party-rule',
          /has not consented .* to CAN/,
        );
      }
    });

    it('does not accept a consent that has expired or is not yet granted', () => {
      const expired = consent({ expiresAt: '2026-06-01T00:00:00Z' });
      expectDeniedBy(passOn({ ...gbrProduct, consents: [expired] }), 'third-party-rule', /has not consented/);
      const future = consent({ grantedAt: '2026-06-01T00:00:00.001Z' });
      expectDeniedBy(passOn({ ...gbrProduct, consents: [future] }), 'third-party-rule', /has not consented/);
      const current = consent({ expiresAt: '2026-06-01T00:00:00.001Z' });
      expect(passOn({ ...gbrProduct, consents: [current] }).effect).toBe('allow');
    });

    it('is waived by an arrangement that the originator signed and that waives it', () => {
      const decision = passOn(gbrProduct, { ...trilateral, thirdPartyRule: false });
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'third-party-rule').reason).toBe(
        'trilateral, signed by the originator GBR, waives the third-party rule',
      );
    });

    it('is not waived for an originator that is not party to the waiving arrangement', () => {
      const fraProduct: ProductOverrides = {
        originator: 'FRA',
        author: 'analyst.fra',
        portions: [['SECRET//REL TO FRA, USA, CAN']],
      };
      expectDeniedBy(
        passOn(fraProduct, { ...trilateral, thirdPartyRule: false }),
        'third-party-rule',
        /^FRA originated the product and has not consented to its release to CAN$/,
      );
    });

    it('passes when the sender originated the product', () => {
      expect(rule(release(), 'third-party-rule')).toEqual({
        rule: 'third-party-rule',
        outcome: 'pass',
        reason: 'USA originated the product',
      });
    });
  });

  describe('portion.ceiling', () => {
    it('withholds a portion above the ceiling', () => {
      const decision = releaseOf(
        { portions: [['SECRET//REL TO USA, GBR'], ['TOP SECRET//REL TO USA, GBR']] },
        { scope: { ceiling: 'SECRET' } },
      );
      expect(decision.effect).toBe('allow');
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.ceiling', reason: 'TOP SECRET is above the ceiling SECRET' },
      ]);
      expect(rule(decision, 'portion.ceiling')).toEqual({
        rule: 'portion.ceiling',
        outcome: 'withhold',
        reason: 'withholds 1 of 2 portions: p2',
      });
    });

    it("ranks a national level through the originating party's equivalence table", () => {
      const gbr: ProductOverrides = {
        originator: 'GBR',
        author: 'analyst.gbr',
        portions: [['UK OFFICIAL-SENSITIVE//REL TO GBR, USA'], ['UK SECRET//REL TO GBR, USA']],
      };
      const table: ArrangementOverrides = {
        scope: { ceiling: 'CONFIDENTIAL' },
        equivalences: { GBR: { 'UK OFFICIAL-SENSITIVE': 'RESTRICTED', 'UK SECRET': 'SECRET' } },
      };
      const decision = releaseOf(gbr, table, { sender: 'GBR', recipient: 'USA' });
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.ceiling', reason: 'UK SECRET is above the ceiling CONFIDENTIAL' },
      ]);
    });

    it('lets the equivalence table place a level above its nominal rank', () => {
      const product: ProductOverrides = {
        originator: 'GBR',
        author: 'analyst.gbr',
        portions: [['UK OFFICIAL-SENSITIVE//REL TO GBR, USA'], ['UK OFFICIAL//REL TO GBR, USA']],
      };
      const mapped = releaseOf(
        product,
        {
          scope: { ceiling: 'RESTRICTED' },
          equivalences: { GBR: { 'UK OFFICIAL-SENSITIVE': 'CONFIDENTIAL' } },
        },
        { sender: 'GBR', recipient: 'USA' },
      );
      expect(keptIds(mapped)).toEqual(['p2']);
      expect(withheldReasons(mapped, 'p1')[0]?.reason).toBe(
        'UK OFFICIAL-SENSITIVE is above the ceiling RESTRICTED',
      );
      // Without a table entry the nominal place (RESTRICTED) applies.
      const nominal = releaseOf(
        product,
        { scope: { ceiling: 'RESTRICTED' } },
        { sender: 'GBR', recipient: 'USA' },
      );
      expect(keptIds(nominal)).toEqual(['p1', 'p2']);
    });

    it('reads an equivalence table that names a level by its abbreviation', () => {
      const product: ProductOverrides = {
        originator: 'GBR',
        author: 'analyst.gbr',
        portions: [['UK OFFICIAL-SENSITIVE//REL TO GBR, USA'], ['UK OFFICIAL//REL TO GBR, USA']],
      };
      const decision = releaseOf(
        product,
        { scope: { ceiling: 'RESTRICTED' }, equivalences: { GBR: { 'UK OS': 'SECRET' } } },
        { sender: 'GBR', recipient: 'USA' },
      );
      expect(keptIds(decision)).toEqual(['p2']);
      expect(withheldReasons(decision, 'p1')).toEqual([
        { rule: 'portion.ceiling', reason: 'UK OFFICIAL-SENSITIVE is above the ceiling RESTRICTED' },
      ]);
    });

    it('ranks NATO levels at their nominal place on the common scale', () => {
      const decision = releaseOf(
        {
          portions: [
            ['NATO CONFIDENTIAL//REL TO NATO'],
            ['NATO SECRET//REL TO NATO'],
            ['COSMIC TOP SECRET//REL TO NATO'],
          ],
        },
        { scope: { ceiling: 'CONFIDENTIAL' } },
      );
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.ceiling', reason: 'NATO SECRET is above the ceiling CONFIDENTIAL' },
      ]);
      expect(withheldReasons(decision, 'p3')).toEqual([
        { rule: 'portion.ceiling', reason: 'COSMIC TOP SECRET is above the ceiling CONFIDENTIAL' },
      ]);
    });
  });

  describe('portion.releasability', () => {
    it('withholds a portion not releasable to the recipient', () => {
      const decision = releaseOf({ portions: [['SECRET//REL TO USA, GBR'], ['SECRET//REL TO USA, CAN']] });
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.releasability', reason: 'REL TO USA, CAN does not cover GBR on 2026-06-01' },
      ]);
    });

    it('releases to a partner through a community it belongs to at the decision date', () => {
      const decision = releaseOf({ portions: [['SECRET//REL TO USA, FVEY']] });
      expect(keptIds(decision)).toEqual(['p1']);
    });

    it('reads REL TO NATO as not covering Sweden before its accession on 2024-03-07 and covering it after', () => {
      const swe: ArrangementOverrides = {
        id: 'usa-swe',
        parties: ['USA', 'SWE'],
        effective: '2020-01-01T00:00:00Z',
      };
      const product: ProductOverrides = {
        portions: [['SECRET//REL TO USA, NATO'], ['SECRET//REL TO USA, SWE']],
      };
      const before = releaseOf(product, swe, { recipient: 'SWE', at: Date.parse('2024-03-06T23:59:59Z') });
      expect(keptIds(before)).toEqual(['p2']);
      expect(withheldReasons(before, 'p1')).toEqual([
        { rule: 'portion.releasability', reason: 'REL TO USA, NATO does not cover SWE on 2024-03-06' },
      ]);
      const after = releaseOf(product, swe, { recipient: 'SWE', at: Date.parse('2024-03-07T00:00:00Z') });
      expect(keptIds(after)).toEqual(['p1', 'p2']);
    });

    it('reads REL TO EU as covering the United Kingdom before Brexit and not after', () => {
      const fraGbr: ArrangementOverrides = {
        id: 'fra-gbr',
        parties: ['FRA', 'GBR'],
        effective: '2015-01-01T00:00:00Z',
      };
      const product: ProductOverrides = {
        originator: 'FRA',
        author: 'analyst.fra',
        portions: [['CONFIDENTIAL//REL TO EU'], ['CONFIDENTIAL//REL TO FRA, GBR']],
      };
      const before = releaseOf(product, fraGbr, { sender: 'FRA', at: Date.parse('2020-01-31T23:59:59Z') });
      expect(keptIds(before)).toEqual(['p1', 'p2']);
      const after = releaseOf(product, fraGbr, { sender: 'FRA', at: Date.parse('2020-02-01T00:00:00Z') });
      expect(keptIds(after)).toEqual(['p2']);
      expect(withheldReasons(after, 'p1')).toEqual([
        { rule: 'portion.releasability', reason: 'REL TO EU does not cover GBR on 2020-02-01' },
      ]);
    });

    it('withholds a NOFORN portion', () => {
      const decision = releaseOf({ portions: [['SECRET//REL TO USA, GBR'], ['SECRET//NOFORN']] });
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.releasability', reason: 'marked NOFORN' },
      ]);
    });

    it('withholds a classified portion with no REL TO and releases an unclassified one', () => {
      const decision = releaseOf({
        portions: [['CONFIDENTIAL'], ['UNCLASSIFIED'], ['SECRET//REL TO USA, GBR']],
      });
      expect(keptIds(decision)).toEqual(['p2', 'p3']);
      expect(withheldReasons(decision, 'p1')).toEqual([
        { rule: 'portion.releasability', reason: 'classified and not marked releasable (no REL TO)' },
      ]);
    });

    it('ranks a level the equivalence table maps to UNCLASSIFIED as unclassified', () => {
      const decision = releaseOf(
        { originator: 'GBR', author: 'analyst.gbr', portions: [['UK OFFICIAL'], ['UK OFFICIAL-SENSITIVE']] },
        { equivalences: { GBR: { 'UK OFFICIAL': 'UNCLASSIFIED', 'UK OFFICIAL-SENSITIVE': 'RESTRICTED' } } },
        { sender: 'GBR', recipient: 'USA' },
      );
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')[0]?.reason).toBe(
        'classified and not marked releasable (no REL TO)',
      );
    });
  });

  describe('portion.caveats', () => {
    it('lets an allowed caveat cover its compartments', () => {
      const decision = releaseOf(
        { portions: [['TOP SECRET//SI-G//REL TO USA, GBR'], ['TOP SECRET//SI//REL TO USA, GBR']] },
        { scope: { caveats: ['SI'] } },
      );
      expect(keptIds(decision)).toEqual(['p1', 'p2']);
    });

    it('withholds a portion with a caveat the arrangement does not allow', () => {
      const decision = releaseOf(
        { portions: [['TOP SECRET//SI//REL TO USA, GBR'], ['TOP SECRET//HCS/TK//REL TO USA, GBR']] },
        { scope: { caveats: ['SI'] } },
      );
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.caveats', reason: 'caveat HCS, TK not allowed under usa-gbr-test' },
      ]);
    });

    it('does not let an allowed compartment cover its base caveat', () => {
      const decision = releaseOf(
        { portions: [['TOP SECRET//SI-G//REL TO USA, GBR'], ['TOP SECRET//SI//REL TO USA, GBR']] },
        { scope: { caveats: ['SI-G'] } },
      );
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')[0]?.reason).toBe('caveat SI not allowed under usa-gbr-test');
    });
  });

  describe('portion.controls', () => {
    it('withholds a portion with a control the arrangement does not allow', () => {
      const decision = releaseOf(
        { portions: [['SECRET//RELIDO/REL TO USA, GBR'], ['SECRET//ORCON/REL TO USA, GBR']] },
        { scope: { controls: ['RELIDO'] } },
      );
      expect(keptIds(decision)).toEqual(['p1']);
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.controls', reason: 'control ORCON not allowed under usa-gbr-test' },
      ]);
    });

    it('judges NOFORN as releasability, not as a control', () => {
      const decision = releaseOf(
        { portions: [['SECRET//REL TO USA, GBR'], ['SECRET//NOFORN']] },
        { scope: { controls: [] } },
      );
      expect(withheldReasons(decision, 'p2').map((r) => r.rule)).toEqual(['portion.releasability']);
    });
  });

  describe('title.releasable', () => {
    it('replaces a title the recipient may not see with a neutral title', () => {
      const decision = releaseOf({
        titleMarking: 'SECRET//NOFORN',
        geo: { type: 'Point', coordinates: [67.0, 24.8] },
        portions: [['SECRET//REL TO USA, GBR']],
      });
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'title.releasable')).toEqual({
        rule: 'title.releasable',
        outcome: 'withhold',
        reason: 'title replaced: marked NOFORN',
      });
      expect(decision.derived?.title).toBe(WITHHELD_TITLE);
      expect(decision.derived?.titleWithheld).toBe(true);
      expect(decision.derived?.titleLabel).toEqual(makeLabel('UNCLASSIFIED'));
      expect(decision.derived?.geo).toBeNull();
      // The withheld title's label no longer counts in the banner.
      expect(bannerText(decision)).toBe('SECRET//REL TO USA, GBR');
    });

    it('keeps a releasable title and its geo footprint', () => {
      const geo = { type: 'Point', coordinates: [67.0, 24.8] };
      const decision = releaseOf({ titleMarking: 'UNCLASSIFIED//REL TO USA, GBR', geo });
      expect(decision.derived?.title).toBe('Facilitation network moving funds');
      expect(decision.derived?.titleWithheld).toBe(false);
      expect(decision.derived?.geo).toEqual(geo);
    });
  });

  describe('tear-line.nonempty', () => {
    it('denies when nothing is left after the tear line', () => {
      const decision = releaseOf({ portions: [['SECRET//NOFORN'], ['SECRET//REL TO USA, CAN']] });
      expect(decision.effect).toBe('deny');
      expect(decision.deniedBy).toEqual(['tear-line.nonempty']);
      expect(rule(decision, 'tear-line.nonempty').reason).toBe('no portion remains after the tear line');
      expect(decision.derived).toBeNull();
      expect(decision.withheld.map((w) => w.portionId)).toEqual(['p1', 'p2']);
    });
  });

  describe('release-approval', () => {
    const needsOne: ArrangementOverrides = { releaseApproval: { fromLevel: 'SECRET', approvals: 1 } };
    const approval = (by: string, decision: 'approved' | 'rejected' = 'approved', version = 1) => ({
      by,
      version,
      at: '2026-05-20T10:00:00Z',
      decision,
    });

    it('denies a release at the approval level without an approval', () => {
      expectDeniedBy(
        releaseOf({}, needsOne),
        'release-approval',
        /^needs 1 approval\(s\) by someone other than the author analyst.usa; has 0$/,
      );
    });

    it('allows it once someone other than the author approved', () => {
      const decision = releaseOf({ approvals: [approval('officer.usa')] }, needsOne);
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'release-approval').reason).toBe('approved by officer.usa');
    });

    it("does not count the author's own approval", () => {
      expectDeniedBy(
        releaseOf({ approvals: [approval('analyst.usa')] }, needsOne),
        'release-approval',
        /has 0$/,
      );
    });

    it('is blocked by a rejection even beside an approval', () => {
      const decision = releaseOf(
        { approvals: [approval('officer.usa'), approval('officer.two', 'rejected')] },
        needsOne,
      );
      expectDeniedBy(decision, 'release-approval', /^rejected by officer.two$/);
    });

    it("counts each approver's latest decision", () => {
      const changed = releaseOf(
        { approvals: [approval('officer.usa'), approval('officer.usa', 'rejected')] },
        needsOne,
      );
      expectDeniedBy(changed, 'release-approval', /rejected by officer.usa/);
      const reconsidered = releaseOf(
        { approvals: [approval('officer.usa', 'rejected'), approval('officer.usa')] },
        needsOne,
      );
      expect(reconsidered.effect).toBe('allow');
    });

    it('does not count an approval of an older version', () => {
      const decision = releaseOf(
        { version: 2, approvals: [approval('officer.usa', 'approved', 1)] },
        needsOne,
      );
      expectDeniedBy(decision, 'release-approval', /has 0$/);
    });

    it('needs as many approvers as the arrangement requires', () => {
      const needsTwo: ArrangementOverrides = { releaseApproval: { fromLevel: 'SECRET', approvals: 2 } };
      expectDeniedBy(
        releaseOf({ approvals: [approval('officer.usa')] }, needsTwo),
        'release-approval',
        /has 1$/,
      );
      const two = releaseOf({ approvals: [approval('officer.usa'), approval('officer.two')] }, needsTwo);
      expect(two.effect).toBe('allow');
    });

    it('judges the level of what is released, after the tear line', () => {
      const decision = releaseOf(
        { portions: [['CONFIDENTIAL//REL TO USA, GBR'], ['SECRET//REL TO USA, CAN']] },
        needsOne,
      );
      expect(decision.effect).toBe('allow');
      expect(rule(decision, 'release-approval').reason).toBe(
        'no approval needed below SECRET (release is CONFIDENTIAL//REL TO GBR, USA)',
      );
    });

    it('ranks what is released through the equivalence table even when the banner is on the common scale', () => {
      // The title is on the common scale and the portion on the UK one: their join is stated as
      // nominal RESTRICTED, but GBR's table puts the portion at SECRET, which needs approval.
      const decision = releaseOf(
        {
          originator: 'GBR',
          author: 'analyst.gbr',
          titleMarking: 'UNCLASSIFIED',
          portions: [['UK OFFICIAL-SENSITIVE//REL TO GBR, USA']],
        },
        { ...needsOne, equivalences: { GBR: { 'UK OFFICIAL-SENSITIVE': 'SECRET' } } },
        { sender: 'GBR', recipient: 'USA' },
      );
      expectDeniedBy(decision, 'release-approval', /needs 1 approval/);
    });
  });

  describe('the derived version', () => {
    it('is bannered as the join of what remains', () => {
      const decision = releaseOf({
        titleMarking: '(U//REL TO USA, FVEY)',
        portions: [['(S//REL TO USA, GBR)'], ['(C//REL TO USA, FVEY)'], ['(S//NF)']],
      });
      expect(keptIds(decision)).toEqual(['p1', 'p2']);
      expect(bannerText(decision)).toBe('SECRET//REL TO USA, GBR');
      expect(decision.derived?.withheldCount).toBe(1);
    });

    it('drops the caveats and controls of withheld portions from the banner', () => {
      const decision = releaseOf(
        {
          portions: [
            ['TOP SECRET//SI//REL TO USA, GBR'],
            ['SECRET//ORCON/REL TO USA, GBR, CAN'],
            ['TOP SECRET//HCS//ORCON/REL TO USA, GBR'],
            ['SECRET//IMCON/REL TO USA, GBR'],
          ],
        },
        { scope: { caveats: ['SI'], controls: ['ORCON'] } },
      );
      expect(keptIds(decision)).toEqual(['p1', 'p2']);
      expect(bannerText(decision)).toBe('TOP SECRET//SI//ORCON/REL TO USA, GBR');
    });

    it('keeps the portions in their order with their text', () => {
      const product = makeProduct({
        portions: [
          { id: 'a', marking: 'SECRET//REL TO USA, GBR', text: 'first' },
          { id: 'b', marking: 'SECRET//NOFORN', text: 'second' },
          { id: 'c', marking: 'CONFIDENTIAL//REL TO GBR, USA', text: 'third' },
        ],
      });
      const decision = release({ product });
      expect(decision.derived?.portions).toEqual([product.portions[0], product.portions[2]]);
      expect(decision.derived?.derivedFrom).toEqual({ id: 'prod-1', version: 1 });
    });

    it('reads communities at the decision instant even when nothing is torn out', () => {
      // Written in 2019, when the United Kingdom was in the EU: the product's own banner is
      // REL TO DEU, FRA, GBR. Released in 2021 the EU portion no longer reaches GBR.
      const decision = releaseOf(
        {
          originator: 'DEU',
          author: 'analyst.deu',
          createdAt: '2019-06-01T00:00:00Z',
          portions: [['CONFIDENTIAL//REL TO EU'], ['CONFIDENTIAL//REL TO DEU, FRA, GBR']],
        },
        { parties: ['DEU', 'FRA'], effective: '2015-01-01T00:00:00Z' },
        { sender: 'DEU', recipient: 'FRA', at: Date.parse('2021-06-01T00:00:00Z') },
      );
      expect(decision.derived?.withheldCount).toBe(0);
      expect(bannerText(decision, 'DEU')).toBe('CONFIDENTIAL//REL TO DEU, FRA');
    });
  });

  describe('withheld portions', () => {
    it('carry every rule they fail', () => {
      const decision = releaseOf(
        { portions: [['SECRET//REL TO USA, GBR'], ['TOP SECRET//HCS//ORCON/REL TO USA, CAN']] },
        { scope: { ceiling: 'SECRET', caveats: [], controls: [] } },
      );
      expect(withheldReasons(decision, 'p2')).toEqual([
        { rule: 'portion.ceiling', reason: 'TOP SECRET is above the ceiling SECRET' },
        { rule: 'portion.releasability', reason: 'REL TO USA, CAN does not cover GBR on 2026-06-01' },
        { rule: 'portion.caveats', reason: 'caveat HCS not allowed under usa-gbr-test' },
        { rule: 'portion.controls', reason: 'control ORCON not allowed under usa-gbr-test' },
      ]);
    });
  });

  describe('the rules list', () => {
    it('reports every release rule exactly once, allowed or denied', () => {
      const allowed = release();
      const denied = releaseOf(
        { discipline: 'HUMINT', portions: [['SECRET//NOFORN']] },
        { status: 'draft', suspendedParties: ['USA'], scope: { disciplines: ['SIGINT'] } },
        { recipient: 'CAN' },
      );
      for (const decision of [allowed, denied]) {
        expect(decision.rules.map((r) => r.rule).sort()).toEqual([...RELEASE_RULES].sort());
      }
      expect(denied.deniedBy).toEqual([
        'arrangement.active',
        'arrangement.parties',
        'arrangement.suspension',
        'scope.discipline',
        'tear-line.nonempty',
      ]);
    });
  });

  describe('the examples', () => {
    it('releases the USA SIGINT report to GBR under the USA-GBR SIGINT arrangement, tearing out the NOFORN portion', () => {
      const read = (path: string): unknown =>
        JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));
      const product = parseProduct(read('../../examples/products/usa-sigint-ct.json'));
      const arrangement = compileArrangement(
        parseArrangement(read('../../examples/arrangements/usa-gbr-sigint.json')),
      );
      const decision = decideRelease(product, arrangement, 'GBR', {
        at: Date.parse('2026-11-21T00:00:00Z'),
        sender: 'USA',
      });
      expect(decision.effect).toBe('allow');
      expect(keptIds(decision)).toEqual(['p1', 'p2']);
      expect(bannerText(decision)).toBe('SECRET//REL TO USA, GBR');
      expect(rule(decision, 'release-approval').reason).toBe('approved by officer.usa');
    });
  });
});

describe('compileArrangement', () => {
  it('keeps what decideRelease needs from the document', () => {
    const compiled = makeCompiledArrangement({ suspendedParties: ['GBR'] });
    expect(compiled.unsignedParties).toEqual([]);
    expect([...compiled.suspended]).toEqual(['GBR']);
    expect(compiled.ceiling).toBe('TOP SECRET');
  });
});
