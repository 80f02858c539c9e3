import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { highestOf, labelOf, levelClassOf } from './classification.js';
import { choiceOf, type LabelChoice, markingOf } from './label-picker.js';

const LEVELS = ['U', 'R', 'C', 'S', 'TS'];
const subset = (items: readonly string[]) => fc.subarray([...items]);
const choices = fc.record({
  level: fc.constantFrom(...LEVELS),
  caveats: subset(['SI', 'TK']),
  relTo: subset(['USA', 'GBR', 'CAN', 'AUS', 'NZL', 'FRA', 'FVEY', 'NATO']),
  controls: subset(['NOFORN', 'ORCON', 'IMCON', 'RELIDO', 'PROPIN']),
});
const sorted = (c: LabelChoice) => ({
  level: c.level,
  caveats: [...c.caveats].sort(),
  relTo: [...c.relTo].sort(),
  controls: [...c.controls].sort(),
});

describe('markingOf', () => {
  it('writes the canonical portion mark, originator first', () => {
    expect(markingOf({ level: 'S', caveats: [], relTo: ['GBR', 'USA'], controls: [] }, 'USA')).toBe(
      '(S//REL TO USA, GBR)',
    );
    expect(markingOf({ level: 'S', caveats: ['SI'], relTo: [], controls: ['NOFORN', 'ORCON'] }, 'USA')).toBe(
      '(S//SI//OC/NF)',
    );
  });

  it('refuses combinations that exclude each other', () => {
    expect(markingOf({ level: 'S', caveats: [], relTo: ['GBR'], controls: ['NOFORN'] }, 'USA')).toBeNull();
    expect(
      markingOf({ level: 'S', caveats: [], relTo: [], controls: ['RELIDO', 'NOFORN'] }, 'USA'),
    ).toBeNull();
  });

  it('never offers a marking the node would read as another label (property)', () => {
    fc.assert(
      fc.property(choices, (choice) => {
        const marking = markingOf(choice, 'USA');
        if (marking === null) return;
        expect(sorted(choiceOf(marking))).toEqual(sorted(choice));
      }),
    );
  });
});

describe('highestOf', () => {
  it('is the join of every marking on screen: highest level, common releasability, all controls', () => {
    expect(highestOf(['(S//REL TO USA, GBR)', '(C//REL TO USA, FVEY)'], 'USA').text).toBe(
      'SECRET//REL TO USA, GBR',
    );
    expect(highestOf(['(U)', '(S//NF)', '(C//REL TO USA, FVEY)']).text).toBe('SECRET//NOFORN');
    expect(highestOf([]).text).toBe('UNCLASSIFIED');
  });

  it('shows a marking it cannot read at the top level, never lower', () => {
    const unread = highestOf(['(S//REL TO USA)', '(BOGUS//X)']);
    expect(unread.text).toMatch(/UNREADABLE/);
    expect(levelClassOf(unread.label)).toBe('level-ts');
  });
});

// WCAG 2.1 relative luminance and contrast ratio (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio).
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe('banner colours', () => {
  const css = readFileSync(join(import.meta.dirname, 'styles.css'), 'utf8');
  it.each(['level-u', 'level-r', 'level-c', 'level-s', 'level-ts'])(
    '.%s has text at 4.5:1 contrast or more (WCAG AA)',
    (level) => {
      const rule = new RegExp(
        `\\.${level} \\{\\s*background: (#[0-9a-f]{6});\\s*color: (#[0-9a-f]{6});`,
      ).exec(css);
      expect(rule, `no colours for .${level}`).not.toBeNull();
      expect(contrast(rule![1]!, rule![2]!)).toBeGreaterThanOrEqual(4.5);
    },
  );

  it('colours each common level differently, lowest to highest', () => {
    const classes = ['UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'].map((l) =>
      levelClassOf(labelOf(l)),
    );
    expect(classes).toEqual(['level-u', 'level-r', 'level-c', 'level-s', 'level-ts']);
  });
});
