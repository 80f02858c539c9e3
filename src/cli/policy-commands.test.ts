import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCaptured } from './captured-run.js';

const FVEY = 'examples/arrangements/fvey-multilateral.json';
const CT_TASK_FORCE = 'examples/arrangements/ct-task-force.json';
const USA_GBR_SIGINT = 'examples/arrangements/usa-gbr-sigint.json';
const USA_SIGINT_CT = 'examples/products/usa-sigint-ct.json';
const GBR_CYBER = 'examples/products/gbr-cyber-apt.json';
const GBR_ANALYST = 'examples/users/gbr-analyst.json';
const AT = '2026-12-01T00:00:00Z';

const P3_TEXT = 'Collection was enabled by a sensitive access';

function release(...args: string[]) {
  return runCaptured(['policy', 'release', '--at', AT, ...args]);
}

function expectOneErrorLine(
  run: { code: number; stdout: string; stderrLines: readonly string[] },
  pattern: RegExp,
) {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderrLines).toHaveLength(1);
  expect(run.stderrLines[0]).toMatch(pattern);
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'accord-cli-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tempFile(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('accord policy release', () => {
  it('allows USA -> GBR under fvey-multilateral, withholding the NOFORN portion and saying why', async () => {
    const run = await release('--product', USA_SIGINT_CT, '--arrangement', FVEY, '--to', 'GBR');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('ALLOW');
    expect(lines.slice(1, 14).every((l) => /^ {2}(pass|FAIL|withhold) +[a-z.-]+ {2,}\S/.test(l))).toBe(true);
    expect(run.stdout).toMatch(/^ {2}withhold {2}portion\.releasability +withholds 1 of 3 portions: p3$/m);
    expect(run.stdout).toMatch(/^withheld\n {2}p3 {2}portion\.releasability {2}marked NOFORN$/m);
    expect(run.stdout).toMatch(/^banner {2}SECRET\/\/REL TO USA, GBR$/m);
    expect(run.stdout).toMatch(/^ {2}title +\(U\/\/REL TO USA, FVEY\) +Facilitation network/m);
    expect(run.stdout).toMatch(/^ {2}p1 +\(S\/\/REL TO USA, GBR\) +Intercepted communications/m);
    expect(run.stdout).toMatch(/^ {2}p2 +\(C\/\/REL TO USA, FVEY\) +The transfers/m);
    // No leak: the withheld portion's text is never printed.
    expect(run.stdout).not.toContain(P3_TEXT);
  });

  it('denies a release to FRA, which is not party to fvey-multilateral, naming arrangement.parties', async () => {
    const run = await release('--product', USA_SIGINT_CT, '--arrangement', FVEY, '--to', 'FRA');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('DENY (arrangement.parties, tear-line.nonempty)');
    expect(run.stdout).toMatch(/^ {2}FAIL {6}arrangement\.parties +FRA is not party to fvey-multilateral$/m);
    expect(run.stdout).not.toMatch(/^banner/m);
    expect(run.stdout).not.toContain('Intercepted communications');
  });

  it('denies USA passing a GBR-originated product to CAN under the third-party rule', async () => {
    const run = await release('--product', GBR_CYBER, '--arrangement', FVEY, '--from', 'USA', '--to', 'CAN');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('DENY (third-party-rule)');
    expect(run.stdout).toMatch(
      /^ {2}FAIL +third-party-rule +GBR originated the product and has not consented to its release to CAN$/m,
    );
  });

  it('allows USA passing the same product to AUS, for which GBR recorded consent', async () => {
    const run = await release('--product', GBR_CYBER, '--arrangement', FVEY, '--from', 'USA', '--to', 'AUS');
    expect(run.stdout.split('\n')[0]).toBe('ALLOW');
    expect(run.stdout).toMatch(/^ {2}pass +third-party-rule +GBR consented to release to AUS$/m);
    expect(run.stdout).toMatch(/^banner {2}UK SECRET\/\/REL TO GBR, FVEY\/\/TLP:AMBER$/m);
  });

  it('takes the sender from the product originator unless --from is given', async () => {
    const own = await release('--product', USA_SIGINT_CT, '--arrangement', FVEY, '--to', 'CAN');
    expect(own.stdout).toMatch(/^ {2}pass +third-party-rule +USA originated the product$/m);
    const passedOn = await release(
      '--product',
      USA_SIGINT_CT,
      '--arrangement',
      FVEY,
      '--from',
      'GBR',
      '--to',
      'CAN',
    );
    expect(passedOn.stdout.split('\n')[0]).toBe('DENY (third-party-rule)');
  });

  it('denies after the arrangement expired, naming arrangement.active', async () => {
    const run = await runCaptured([
      'policy',
      'release',
      '--product',
      USA_SIGINT_CT,
      '--arrangement',
      FVEY,
      '--to',
      'GBR',
      '--at',
      '2031-01-01T00:00:00Z',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('DENY (arrangement.active)');
    expect(run.stdout).toMatch(
      /^ {2}FAIL +arrangement\.active +arrangement fvey-multilateral v1 expired on 2030-12-31$/m,
    );
  });

  it('decides at the injected clock when --at is absent', async () => {
    const args = ['policy', 'release', '--product', USA_SIGINT_CT, '--arrangement', FVEY, '--to', 'GBR'];
    const later = await runCaptured(args, { now: () => Date.parse('2031-06-01T00:00:00Z') });
    expect(later.stdout.split('\n')[0]).toBe('DENY (arrangement.active)');
    const during = await runCaptured(args, { now: () => Date.parse(AT) });
    expect(during.stdout.split('\n')[0]).toBe('ALLOW');
  });

  it('accepts a bare date and an offset for --at', async () => {
    for (const at of [
      '2026-12-01',
      '2026-12-01T01:00:00+01:00',
      '2026-12-01T00:00Z',
      '2026-12-01T00:00:00.5Z',
    ]) {
      const run = await runCaptured([
        'policy',
        'release',
        '--product',
        USA_SIGINT_CT,
        '--arrangement',
        FVEY,
        '--to',
        'GBR',
        '--at',
        at,
      ]);
      expect(run.code, at).toBe(0);
    }
  });

  it('prints the Decision with rendered banners under --json', async () => {
    const run = await release('--product', USA_SIGINT_CT, '--arrangement', FVEY, '--to', 'GBR', '--json');
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json.request).toEqual({
      product: { id: 'usa-2026-0417', version: 1 },
      arrangement: { id: 'fvey-multilateral', version: 1 },
      sender: 'USA',
      recipient: 'GBR',
      at: '2026-12-01T00:00:00.000Z',
    });
    expect(json.effect).toBe('allow');
    expect(json.deniedBy).toEqual([]);
    expect(json.rules).toHaveLength(14);
    expect(json.withheld).toEqual([
      { portionId: 'p3', reasons: [{ rule: 'portion.releasability', reason: 'marked NOFORN' }] },
    ]);
    expect(json.derived.bannerMarking).toBe('SECRET//REL TO USA, GBR');
    expect(json.derived.titleMarking).toBe('(U//REL TO USA, FVEY)');
    expect(json.derived.portions.map((p: { id: string; marking: string }) => [p.id, p.marking])).toEqual([
      ['p1', '(S//REL TO USA, GBR)'],
      ['p2', '(C//REL TO USA, FVEY)'],
    ]);
    expect(run.stdout).not.toContain(P3_TEXT);
  });

  it('gives a null derived version and the failing rules under --json on deny', async () => {
    const run = await release('--product', USA_SIGINT_CT, '--arrangement', FVEY, '--to', 'FRA', '--json');
    const json = JSON.parse(run.stdout);
    expect(json.effect).toBe('deny');
    expect(json.deniedBy).toContain('arrangement.parties');
    expect(json.derived).toBeNull();
  });

  it('releases TOP SECRET//SI under usa-gbr-sigint with the SI-G compartment covered by SI', async () => {
    const run = await release(
      '--product',
      'examples/products/usa-sigint-ts-si.json',
      '--arrangement',
      USA_GBR_SIGINT,
      '--to',
      'GBR',
    );
    expect(run.stdout.split('\n')[0]).toBe('ALLOW');
    expect(run.stdout).toMatch(/^banner {2}TOP SECRET\/\/SI\/SI-G\/\/ORCON\/REL TO USA, GBR$/m);
  });

  it('renders UK scheme portion marks with the originator first', async () => {
    const run = await release(
      '--product',
      'examples/products/gbr-imint-naval-base.json',
      '--arrangement',
      FVEY,
      '--to',
      'USA',
    );
    expect(run.stdout.split('\n')[0]).toBe('ALLOW');
    expect(run.stdout).toMatch(/^banner {2}UK SECRET\/\/REL TO GBR, USA$/m);
    expect(run.stdout).toMatch(/^ {2}p1 +\(UK S\/\/REL TO GBR, USA\) /m);
    expect(run.stdout).toMatch(/^ {2}p3 {2}portion\.releasability {2}REL TO GBR does not cover USA/m);
  });

  it('releases ORCON HUMINT and TLP:GREEN OSINT under the counter-terrorism task force', async () => {
    const humint = await release(
      '--product',
      'examples/products/usa-humint-orcon.json',
      '--arrangement',
      CT_TASK_FORCE,
      '--to',
      'FRA',
    );
    expect(humint.stdout).toMatch(/^ALLOW\n/);
    expect(humint.stdout).toMatch(/^banner {2}SECRET\/\/ORCON\/REL TO USA, FRA$/m);
    const osint = await release(
      '--product',
      'examples/products/fra-osint-tlp-green.json',
      '--arrangement',
      CT_TASK_FORCE,
      '--to',
      'USA',
    );
    expect(osint.stdout).toMatch(/^ALLOW\n/);
    expect(osint.stdout).toMatch(/^banner {2}UNCLASSIFIED\/\/TLP:GREEN$/m);
  });

  it('prints text from the product on one line with terminal escapes neutralised', async () => {
    const doc = JSON.parse(await readFile(join(REPO_ROOT, USA_SIGINT_CT), 'utf8'));
    doc.portions[0].text = 'line one\nline two \u001b[2J\u001b]0;owned\u0007 \u202eevil';
    const file = await tempFile('escapes.json', JSON.stringify(doc));
    const run = await release('--product', file, '--arrangement', FVEY, '--to', 'GBR');
    expect(run.stdout).toMatch(
      /^ {2}p1 +\(S\/\/REL TO USA, GBR\) +line one line two \uFFFD\[2J\uFFFD\]0;owned\uFFFD \uFFFDevil$/m,
    );
    for (const control of ['\u001b', '\u0007', '\u202e']) expect(run.stdout).not.toContain(control);
  });

  describe('bad input: exit 2, one line naming the problem', () => {
    it('a missing file', async () => {
      const run = await release(
        '--product',
        'examples/products/nope.json',
        '--arrangement',
        FVEY,
        '--to',
        'GBR',
      );
      expectOneErrorLine(
        run,
        /^accord: cannot read product file 'examples\/products\/nope\.json': no such file \[INPUT_INVALID\]$/,
      );
    });

    it('a directory', async () => {
      const run = await release(
        '--product',
        USA_SIGINT_CT,
        '--arrangement',
        'examples/arrangements',
        '--to',
        'GBR',
      );
      expectOneErrorLine(
        run,
        /^accord: cannot read arrangement file 'examples\/arrangements': it is a directory \[INPUT_INVALID\]$/,
      );
    });

    it('malformed JSON', async () => {
      const file = await tempFile('broken.json', '{ "id": "x",\n  "version": ');
      const run = await release('--product', file, '--arrangement', FVEY, '--to', 'GBR');
      expectOneErrorLine(
        run,
        /^accord: product file '.*broken\.json' is not valid JSON: .+ \[INPUT_INVALID\]$/,
      );
    });

    it('an empty file', async () => {
      const file = await tempFile('empty.json', '');
      const run = await release('--product', USA_SIGINT_CT, '--arrangement', file, '--to', 'GBR');
      expectOneErrorLine(
        run,
        /^accord: arrangement file '.*empty\.json' is not valid JSON: .+ \[INPUT_INVALID\]$/,
      );
    });

    it('a product that does not match the schema, naming the file and field', async () => {
      const file = await tempFile('no-title.json', JSON.stringify({ id: 'x', version: 1 }));
      const run = await release('--product', file, '--arrangement', FVEY, '--to', 'GBR');
      expectOneErrorLine(
        run,
        /^accord: .*no-title\.json: product \/originator: missing field 'originator' \[PRODUCT_INVALID\]$/,
      );
    });

    it('a product with a bad marking, naming the portion', async () => {
      const doc = JSON.parse(await readFile(join(REPO_ROOT, USA_SIGINT_CT), 'utf8'));
      doc.portions[1].marking = '(C//REL TO USA, XYZ)';
      const file = await tempFile('bad-marking.json', JSON.stringify(doc));
      const run = await release('--product', file, '--arrangement', FVEY, '--to', 'GBR');
      expectOneErrorLine(
        run,
        /^accord: .*bad-marking\.json: product \/portions\/1\/marking: unknown country or community code 'XYZ' at position 17 \[PRODUCT_INVALID\]$/,
      );
    });

    it('the product given where the arrangement belongs', async () => {
      const run = await release('--product', USA_SIGINT_CT, '--arrangement', USA_SIGINT_CT, '--to', 'GBR');
      expectOneErrorLine(
        run,
        /^accord: examples\/products\/usa-sigint-ct\.json: arrangement .+ \[ARRANGEMENT_INVALID\]$/,
      );
    });

    it('an unknown flag', async () => {
      const run = await release(
        '--product',
        USA_SIGINT_CT,
        '--arrangement',
        FVEY,
        '--to',
        'GBR',
        '--recipient',
        'GBR',
      );
      expectOneErrorLine(run, /^accord: unknown option '--recipient'/);
    });

    it('a missing required flag', async () => {
      const run = await release('--product', USA_SIGINT_CT, '--arrangement', FVEY);
      expectOneErrorLine(run, /^accord: required option '--to <partner>' not specified$/);
    });

    it('an unknown partner', async () => {
      const run = await release('--product', USA_SIGINT_CT, '--arrangement', FVEY, '--to', 'XYZ');
      expectOneErrorLine(run, /^accord: --to: 'XYZ' is not a known partner code/);
    });

    it.each([
      'tomorrow',
      '2026-02-30',
      '2026-13-01',
      '2026-12-01T10:00',
      '2026-12-01T24:00Z',
      '1764547200000',
    ])('an invalid --at %j, naming the value', async (at) => {
      const run = await runCaptured([
        'policy',
        'release',
        '--product',
        USA_SIGINT_CT,
        '--arrangement',
        FVEY,
        '--to',
        'GBR',
        '--at',
        at,
      ]);
      expectOneErrorLine(
        run,
        new RegExp(`^accord: --at: '${at}' is not an ISO 8601 instant .+ \\[INPUT_INVALID\\]$`),
      );
    });
  });
});

describe('accord policy read', () => {
  it('shows a GBR analyst what they may read, withholding by nationality', async () => {
    const run = await runCaptured([
      'policy',
      'read',
      '--product',
      'examples/products/usa-humint-orcon.json',
      '--user',
      GBR_ANALYST,
      '--at',
      AT,
    ]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.split('\n')[0]).toBe('ALLOW');
    expect(run.stdout).toMatch(/^ {2}pass +need-to-know +need-to-know through ct-fusion-cell$/m);
    expect(run.stdout).toMatch(/^ {2}p2 {2}portion\.nationality {2}REL TO USA, FRA does not cover GBR/m);
    expect(run.stdout).toMatch(/^ {2}p3 {2}portion\.nationality {2}marked NOFORN$/m);
    expect(run.stdout).toMatch(/^banner {2}SECRET\/\/ORCON\/REL TO USA, AUS, FRA, GBR$/m);
  });

  it('maps national levels through --arrangement and prints JSON', async () => {
    const run = await runCaptured([
      'policy',
      'read',
      '--product',
      'examples/products/gbr-imint-naval-base.json',
      '--user',
      GBR_ANALYST,
      '--arrangement',
      FVEY,
      '--at',
      AT,
      '--json',
    ]);
    const json = JSON.parse(run.stdout);
    expect(json.request).toEqual({
      product: { id: 'gbr-2026-1102', version: 1 },
      reader: 'analyst.gbr',
      arrangement: { id: 'fvey-multilateral', version: 1 },
      at: '2026-12-01T00:00:00.000Z',
    });
    expect(json.effect).toBe('allow');
    expect(json.derived.bannerMarking).toBe('UK SECRET//REL TO GBR');
  });

  it('denies a reader without need-to-know, naming the rule', async () => {
    const user = await tempFile(
      'outsider.json',
      JSON.stringify({
        id: 'analyst.aus',
        nationality: 'AUS',
        clearance: 'SECRET',
        caveats: [],
        communities: [],
      }),
    );
    const run = await runCaptured([
      'policy',
      'read',
      '--product',
      'examples/products/usa-humint-orcon.json',
      '--user',
      user,
      '--at',
      AT,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('DENY (need-to-know)');
  });

  it.each([
    [
      { nationality: 'GBR', clearance: 'SECRET', caveats: [], communities: [] },
      "user /id: missing field 'id'",
    ],
    [
      { id: 'a', nationality: 'GBR', clearance: 'SUPER SECRET', caveats: [], communities: [] },
      'user /clearance: ',
    ],
    [
      { id: 'a', nationality: 'XYZ', clearance: 'SECRET', caveats: [], communities: [] },
      "user /nationality: unknown partner 'XYZ'",
    ],
    [
      { id: 'a', nationality: 'GBR', clearance: 'SECRET', caveats: ['ZZ'], communities: [] },
      "user /caveats/0: unknown caveat 'ZZ'",
    ],
    [
      { id: 'a', nationality: 'GBR', clearance: 'SECRET', caveats: [], communities: [], admin: true },
      "user /admin: unknown field 'admin'",
    ],
    [['not', 'an', 'object'], 'user /: '],
  ])('rejects the bad user file %j with exit 2 naming the field', async (doc, message) => {
    const user = await tempFile('bad-user.json', JSON.stringify(doc));
    const run = await runCaptured(['policy', 'read', '--product', USA_SIGINT_CT, '--user', user, '--at', AT]);
    expectOneErrorLine(run, /\[INPUT_INVALID\]$/);
    expect(run.stderrLines[0]).toContain(`bad-user.json: ${message}`);
  });
});
