// Issue 9: entity extraction throughput, in MiB of portion text per second. Each operation reads
// one MiB of report-like text (prose with indicators, some defanged, every few lines); the ceiling
// is one regular-expression scan of the same MiB for the characters every indicator holds (dots,
// colons, at signs), the least any extractor must do.
import { extractEntities, type PortionText } from '../../src/analytics/extract.js';
import { DEFAULT_REGISTRY, parseMarking } from '../../src/markings/index.js';
import type { BenchCase, Suite } from '../harness.js';

const MIB = 1024 * 1024;

const LINES = [
  'Intercepted traffic shows the implant beaconing to 203.0.113.17 and cdn[.]update-check[.]example.com every hour.',
  'The loader (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08) was fetched from hxxps://files.example[.]org/x/loader.bin.',
  'Operators used billing[@]secure-mail.example.net to send the lure; the handler answered on +44 20 7946 0958.',
  'The group exploited CVE-2024-3400 on perimeter devices before 14 March 2026, then moved laterally for two weeks.',
  'A vehicle was observed at 42S XD 12345 67890 and later near 24.8615, 67.0099, heading towards the coast road.',
  'Analysts assess with moderate confidence that the facilitator arranged three transfers through two brokers.',
  'No further activity was seen from 2001:db8::8a2e:370:7334 after the infrastructure was taken down on 2026-04-02.',
  'Reporting from partner services corroborates the timeline; the source has reliable access and a good record.',
];

/** About one MiB of text in portions of 4 KiB, each with the same label. */
function corpus(): PortionText[] {
  const label = parseMarking('SECRET//REL TO USA, GBR', DEFAULT_REGISTRY).label;
  const portions: PortionText[] = [];
  let size = 0;
  let text = '';
  for (let i = 0; size < MIB; i++) {
    const line = `${LINES[i % LINES.length]} `;
    text += line;
    size += line.length;
    if (text.length >= 4096) {
      portions.push({ id: `p${portions.length + 1}`, text, label });
      text = '';
    }
  }
  if (text !== '') portions.push({ id: `p${portions.length + 1}`, text, label });
  return portions;
}

const extractionCase: BenchCase = {
  name: 'entity extraction MiB/s (1 MiB of report text per op, 4 KiB portions)',
  ceiling: 'one regex scan for . : @',
  setup: () => {
    const portions = corpus();
    return {
      run: () => extractEntities(portions).length,
      ceiling: () => {
        let n = 0;
        for (const p of portions) n += p.text.match(/[.:@]/g)?.length ?? 0;
        return n;
      },
    };
  },
};

export const analyticsSuite: Suite = { name: 'analytics', cases: [extractionCase] };
