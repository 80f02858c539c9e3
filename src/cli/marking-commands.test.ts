import { describe, expect, it } from 'vitest';
import { runCaptured } from './captured-run.js';

async function normalize(...args: string[]) {
  return runCaptured(['marking', 'normalize', ...args]);
}

describe('accord marking normalize', () => {
  it.each([
    // [input, extra flags, canonical output]
    ['TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON', [], 'TOP SECRET//SI//ORCON/REL TO GBR, USA, FVEY'],
    [
      'TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON',
      ['--originator', 'GBR'],
      'TOP SECRET//SI//ORCON/REL TO GBR, USA, FVEY',
    ],
    [
      'TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON',
      ['--originator', 'USA'],
      'TOP SECRET//SI//ORCON/REL TO USA, GBR, FVEY',
    ],
    ['(S//REL TO GBR, USA)', ['--originator', 'GBR'], '(S//REL TO GBR, USA)'],
    ['(s//rel to usa,  gbr)', ['--originator', 'gbr'], '(S//REL TO GBR, USA)'],
    ['UNCLASSIFIED//TLP:AMBER+STRICT', [], 'UNCLASSIFIED//TLP:AMBER+STRICT'],
    ['NATO SECRET', [], 'NATO SECRET'],
    ['(NS)', [], '(NS)'],
    ['SECRET//NOFORN', [], 'SECRET//NOFORN'],
    ['SECRET//NF', [], 'SECRET//NOFORN'],
    ['(S//NOFORN)', [], '(S//NF)'],
  ] as const)('normalises %s %j to %s', async (input, flags, expected) => {
    const run = await normalize(input, ...flags);
    expect(run).toMatchObject({ code: 0, stdout: `${expected}\n`, stderr: '' });
  });

  it('keeps the form it was given: a banner stays a banner and a portion mark a portion mark', async () => {
    expect((await normalize('S//REL TO GBR, USA', '--originator', 'GBR')).stdout).toBe(
      'SECRET//REL TO GBR, USA\n',
    );
    expect((await normalize('(SECRET//REL TO GBR, USA)', '--originator', 'GBR')).stdout).toBe(
      '(S//REL TO GBR, USA)\n',
    );
  });

  it('prints { form, canonical } with --json', async () => {
    const run = await normalize('(S//REL TO GBR, USA)', '--originator', 'GBR', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ form: 'portion', canonical: '(S//REL TO GBR, USA)' });
  });

  it('reports an unknown code as one line with its position and error code', async () => {
    const run = await normalize('SECRET//REL TO USA, XYZ');
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderrLines).toEqual([
      "accord: unknown country or community code 'XYZ' at position 21 [MARKING_UNKNOWN_TOKEN]",
    ]);
  });

  it.each([
    ['SECRET//NOFORN//REL TO USA', 'MARKING_CONTRADICTION'],
    ['SECRET////NF', 'MARKING_SYNTAX'],
    ['(S//NF', 'MARKING_SYNTAX'],
    ['SUPER SECRET', 'MARKING_UNKNOWN_TOKEN'],
    ['SECRET//ORCON//OC', 'MARKING_DUPLICATE'],
    ['SECRET//REL TO', 'MARKING_EMPTY_REL_TO'],
    ['', 'MARKING_SYNTAX'],
    ['SECRET\u001b[2J', 'MARKING_SYNTAX'],
  ])('rejects %j with exit 2 and exactly one stderr line, no stack', async (input, code) => {
    const run = await normalize(input);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderrLines).toHaveLength(1);
    expect(run.stderrLines[0]).toMatch(new RegExp(`^accord: .+ \\[${code}\\]$`));
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain('\u001b');
  });

  it('rejects an unknown --originator as bad input', async () => {
    const run = await normalize('SECRET', '--originator', 'XYZ');
    expect(run.code).toBe(2);
    expect(run.stderrLines).toEqual([
      "accord: --originator: 'XYZ' is not a known partner code (ISO 3166-1 alpha-3) [INPUT_INVALID]",
    ]);
  });
});

describe('accord marking parse', () => {
  it('prints the label, banner and portion mark as JSON with --json', async () => {
    const run = await runCaptured([
      'marking',
      'parse',
      'TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON',
      '--originator',
      'USA',
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      form: 'banner',
      label: {
        classification: { scheme: 'COMMON', level: 'TOP SECRET' },
        relTo: ['GBR', 'USA', 'FVEY'],
        caveats: ['SI'],
        controls: ['ORCON'],
        tlp: null,
        pap: null,
      },
      banner: 'TOP SECRET//SI//ORCON/REL TO USA, GBR, FVEY',
      portion: '(TS//SI//OC/REL TO USA, GBR, FVEY)',
    });
  });

  it('prints a short human summary without --json', async () => {
    const run = await runCaptured(['marking', 'parse', '(UK S//REL TO GBR, USA)', '--originator', 'GBR']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      'form            portion',
      'classification  UK SECRET (UK scheme)',
      'rel to          GBR, USA',
      'caveats         -',
      'controls        -',
      'tlp             -',
      'pap             -',
      'banner          UK SECRET//REL TO GBR, USA',
      'portion mark    (UK S//REL TO GBR, USA)',
      '',
    ]);
  });

  it('shows TLP and PAP when present', async () => {
    const run = await runCaptured(['marking', 'parse', 'UNCLASSIFIED//TLP:AMBER+STRICT//PAP:GREEN']);
    expect(run.stdout).toMatch(/^tlp {13}AMBER\+STRICT$/m);
    expect(run.stdout).toMatch(/^pap {13}GREEN$/m);
  });

  it('rejects a bad marking with exit 2 and one line', async () => {
    const run = await runCaptured(['marking', 'parse', 'SECRET//REL TO USA, XYZ', '--json']);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderrLines).toHaveLength(1);
  });
});
