import type { Discipline } from '../products/index.js';
import type { UserInput } from '../services/directory-service.js';
import type { DraftInput } from '../services/product-service.js';

/** The five FVEY partners of the demo alliance. */
export const DEMO_PARTNERS = [
  { code: 'USA', name: 'United States', port: 7401 },
  { code: 'GBR', name: 'United Kingdom', port: 7402 },
  { code: 'CAN', name: 'Canada', port: 7403 },
  { code: 'AUS', name: 'Australia', port: 7404 },
  { code: 'NZL', name: 'New Zealand', port: 7405 },
] as const;

/**
 * Parties to an example arrangement that run no demo node (FRA in the counter-terrorism task
 * force). An arrangement pins keys only once every party has signed, so the demo makes keys for
 * them and signs on their behalf; nothing is ever released to them.
 */
export const DEMO_SIGNATORIES = [{ code: 'FRA', name: 'France' }] as const;

/**
 * The passphrase the demo encrypts its node keys under. Like the demo logins it is fixed and
 * printed, so it serves only the demo's own data directory; a real node reads ACCORD_KEY_PASSPHRASE.
 */
export const DEMO_KEY_PASSPHRASE = 'accord-demo-keys-not-secret';

/**
 * The indicator two partners' reports share (issue 9): USA's counter-terrorism SIGINT and
 * Australia's cyber reports both name this relay (the second defanged, as analysts write it), so
 * GBR's analyst, whose rule watches for an entity from two partners within 24 hours, is alerted
 * live once both reach GBR.
 */
export const DEMO_SHARED_INDICATOR = '203.0.113.77';

/** The early-warning rule the demo gives GBR's analyst. */
export const DEMO_ALERT_RULE = { kind: 'entity-by-partners', minPartners: 2, windowHours: 24 } as const;

/** Demo logins. Passwords are printed by the demo; a real node never has fixed ones. */
export function demoUsers(partner: string): (UserInput & { password: string })[] {
  const p = partner.toLowerCase();
  return [
    {
      username: 'analyst',
      displayName: `${partner} all-source analyst`,
      nationality: partner,
      clearance: 'TOP SECRET',
      caveats: ['SI', 'TK'],
      communities: ['FVEY'],
      roles: ['analyst'],
      password: `analyst-${p}-demo`,
    },
    {
      username: 'officer',
      displayName: `${partner} release officer`,
      nationality: partner,
      clearance: 'TOP SECRET',
      caveats: ['SI', 'TK'],
      communities: ['FVEY'],
      roles: ['release-officer'],
      password: `officer-${p}-demo`,
    },
    {
      username: 'admin',
      displayName: `${partner} node administrator`,
      nationality: partner,
      clearance: 'SECRET',
      caveats: [],
      communities: [],
      roles: ['administrator'],
      password: `admin-${p}-demo1`,
    },
    {
      username: 'auditor',
      displayName: 'Oversight auditor',
      nationality: partner,
      clearance: 'SECRET',
      caveats: [],
      communities: [],
      roles: ['oversight-auditor'],
      password: `auditor-${p}-demo`,
    },
    {
      username: 'liaison',
      displayName: 'GBR liaison officer (SECRET, no caveats)',
      nationality: partner === 'GBR' ? 'USA' : 'GBR',
      clearance: 'SECRET',
      caveats: [],
      communities: ['FVEY'],
      roles: ['analyst'],
      password: `liaison-${p}-demo`,
    },
  ];
}

interface Place {
  readonly name: string;
  readonly lon: number;
  readonly lat: number;
}

const PLACES: readonly Place[] = [
  { name: 'Karachi', lon: 67.0099, lat: 24.8615 },
  { name: 'Aden', lon: 45.0187, lat: 12.7855 },
  { name: 'Mosul', lon: 43.1189, lat: 36.34 },
  { name: 'Tripoli', lon: 13.1913, lat: 32.8872 },
  { name: 'Mogadishu', lon: 45.3182, lat: 2.0469 },
  { name: 'Sevastopol', lon: 33.5224, lat: 44.6167 },
  { name: 'Kaliningrad', lon: 20.4522, lat: 54.7104 },
  { name: 'Bandar Abbas', lon: 56.2808, lat: 27.1832 },
  { name: 'Gwadar', lon: 62.3254, lat: 25.1216 },
  { name: 'Marawi', lon: 124.2928, lat: 7.9986 },
  { name: 'Port Moresby', lon: 147.1803, lat: -9.4438 },
  { name: 'Honiara', lon: 159.9729, lat: -9.4456 },
  { name: 'Rotterdam', lon: 4.4777, lat: 51.9244 },
  { name: 'Tartus', lon: 35.8867, lat: 34.8959 },
  { name: 'Sinjar', lon: 41.8689, lat: 36.3209 },
];

interface Template {
  readonly discipline: Discipline;
  readonly category: string;
  readonly title: (place: string) => string;
  readonly portions: readonly (readonly [marking: string, text: (place: string) => string])[];
  readonly titleMarking: string;
  readonly reliability: DraftInput['reliability'];
  readonly credibility: number;
}

const TEMPLATES: readonly Template[] = [
  {
    discipline: 'SIGINT',
    category: 'counterterrorism',
    title: (p) => `Facilitator network active near ${p}`,
    titleMarking: '(U//REL TO USA, FVEY)',
    portions: [
      [
        '(S//REL TO USA, FVEY)',
        (p) =>
          `Communications associated with a known facilitator indicate travel planning toward ${p} within two weeks.`,
      ],
      [
        '(C//REL TO USA, FVEY)',
        () =>
          `The facilitator uses rotating handsets purchased in bulk; three new identifiers were observed calling a relay at ${DEMO_SHARED_INDICATOR}.`,
      ],
      ['(S//NF)', () => 'Collection relied on a sensitive access; details must not leave national channels.'],
    ],
    reliability: 'B',
    credibility: 2,
  },
  {
    discipline: 'SIGINT',
    category: 'military',
    title: (p) => `Naval communications surge at ${p}`,
    titleMarking: '(U//REL TO USA, GBR)',
    portions: [
      [
        '(TS//SI//REL TO USA, GBR)',
        (p) =>
          `Fleet broadcast volume at ${p} rose fourfold over 72 hours, consistent with exercise preparation.`,
      ],
      ['(S//REL TO USA, GBR)', () => 'Two submarines departed port; one returned after 18 hours.'],
      [
        '(S//REL TO USA, FVEY)',
        () => 'Coastal radar activity matches the pattern of the spring readiness inspection.',
      ],
    ],
    reliability: 'A',
    credibility: 2,
  },
  {
    discipline: 'IMINT',
    category: 'proliferation',
    title: (p) => `New construction at suspected procurement site near ${p}`,
    titleMarking: '(U//REL TO USA, FVEY)',
    portions: [
      [
        '(S//REL TO USA, FVEY)',
        (p) =>
          `Imagery shows a new 40 m hall and security fence at the site near ${p}, built since last quarter.`,
      ],
      ['(C//REL TO USA, FVEY)', () => 'Vehicle counts suggest a workforce of about 120.'],
      ['(U//REL TO USA, FVEY)', () => 'Commercial imagery of the area is available for open discussion.'],
    ],
    reliability: 'B',
    credibility: 3,
  },
  {
    discipline: 'GEOINT',
    category: 'disaster-response',
    title: (p) => `Flood extent and route access around ${p}`,
    titleMarking: '(U)',
    portions: [
      [
        '(U)',
        (p) =>
          `Flood waters cover an estimated 60 km² south of ${p}; the main supply road is cut at two points.`,
      ],
      ['(U//TLP:GREEN)', () => 'Two bridges remain passable for vehicles under 10 tonnes.'],
      ['(R//REL TO USA, FVEY)', () => 'Military airfield remains operational; runway clear of debris.'],
    ],
    reliability: 'A',
    credibility: 1,
  },
  {
    discipline: 'HUMINT',
    category: 'counterterrorism',
    title: (p) => `Recruitment cell meeting reported in ${p}`,
    titleMarking: '(U//REL TO USA, FVEY)',
    portions: [
      [
        '(S//ORCON/REL TO USA, FVEY)',
        (p) => `A source with good access reports weekly meetings of a recruitment cell in ${p}.`,
      ],
      ['(C//REL TO USA, FVEY)', () => 'The cell targets students at two technical colleges.'],
      ['(S//NF)', () => 'Source identity and access details are held separately.'],
    ],
    reliability: 'C',
    credibility: 3,
  },
  {
    discipline: 'OSINT',
    category: 'cyber',
    title: (p) => `Ransomware affiliate advertising access to ${p} port systems`,
    titleMarking: '(U)',
    portions: [
      [
        '(U//TLP:GREEN)',
        (p) =>
          `An affiliate on a criminal forum offers remote access to logistics systems of a port in ${p}.`,
      ],
      [
        '(U//TLP:AMBER)',
        () =>
          'The listing includes screenshots matching a known terminal operating system; indicator 203.0.113.45 appears in them.',
      ],
      [
        '(C//REL TO USA, FVEY)',
        () => 'Partner reporting links the affiliate to a group sanctioned last year.',
      ],
    ],
    reliability: 'D',
    credibility: 3,
  },
  {
    discipline: 'CYBINT',
    category: 'cyber',
    title: (p) => `Intrusion set targeting energy operators near ${p}`,
    titleMarking: '(U//REL TO USA, FVEY)',
    portions: [
      [
        '(S//REL TO USA, FVEY)',
        (p) =>
          `An intrusion set reused infrastructure (relay ${DEMO_SHARED_INDICATOR.replaceAll('.', '[.]')}) against two energy operators near ${p}.`,
      ],
      [
        '(U//TLP:AMBER)',
        () =>
          'Indicators: sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855, domain update-check[.]example.',
      ],
      [
        '(TS//SI//REL TO USA, GBR)',
        () => 'Tasking to the intrusion set was observed from a known control node.',
      ],
    ],
    reliability: 'B',
    credibility: 2,
  },
  {
    discipline: 'OSINT',
    category: 'organised-crime',
    title: (p) => `Smuggling route shift through ${p}`,
    titleMarking: '(U)',
    portions: [
      ['(U)', (p) => `Local media report increased seizures of synthetic drugs transiting ${p}.`],
      [
        '(R//REL TO USA, FVEY)',
        () => 'Customs partners attribute the shift to enforcement on the northern route.',
      ],
      [
        '(C//REL TO USA, GBR, CAN)',
        () => 'Financial flows suggest the same network launders proceeds through shell firms.',
      ],
    ],
    reliability: 'C',
    credibility: 2,
  },
];

/**
 * A marking of the templates (written for USA) as `originator` writes it: USA in a REL TO list
 * becomes the originator, which goes first, and USA takes the place the originator had.
 */
function markingFor(marking: string, originator: string): string {
  if (originator === 'USA') return marking;
  return marking.replace(/REL TO ([A-Z, ]+)/, (_all, list: string) => {
    const codes = list.split(', ').map((c) => (c === originator ? 'USA' : c === 'USA' ? originator : c));
    return `REL TO ${[originator, ...codes.filter((c) => c !== originator)].join(', ')}`;
  });
}

/** A deterministic set of `count` varied products, as an analyst of `originator` writes them. */
export function demoProducts(count: number, originator = 'USA'): DraftInput[] {
  const drafts: DraftInput[] = [];
  // Each partner starts elsewhere in the lists, so the five nodes do not write the same reports.
  const shift =
    Math.max(
      0,
      DEMO_PARTNERS.findIndex((p) => p.code === originator),
    ) * 3;
  for (let i = 0; i < count; i++) {
    const template = TEMPLATES[(i + shift) % TEMPLATES.length]!;
    const place = PLACES[(i * 7 + shift) % PLACES.length]!;
    drafts.push({
      title: template.title(place.name),
      titleMarking: markingFor(template.titleMarking, originator),
      discipline: template.discipline,
      categories: [template.category],
      portions: template.portions.map(([marking, text]) => ({
        marking: markingFor(marking, originator),
        text: text(place.name),
      })),
      reliability: template.reliability,
      credibility: template.credibility,
      geo: {
        type: 'Point',
        coordinates: [place.lon + ((i % 5) - 2) * 0.05, place.lat + ((i % 3) - 1) * 0.05],
      },
    });
  }
  return drafts;
}
