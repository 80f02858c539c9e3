import type { ComplianceReport, DecisionCounts } from './compliance.js';

// The compliance report as one self-contained HTML page: no script, no external stylesheet, font
// or image, so it opens offline and prints to PDF as it shows (A4, a section never split across
// a page where it can be helped). Charts are inline SVG bars. Every text taken from the report
// goes through escapeHtml: usernames, partner codes and ids come from the store and, through the
// federation, from partners, so they are treated as hostile.

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** The page's one style sheet, inline in its head; its server allows exactly it by hash (report-routes.ts). */
export const COMPLIANCE_CSS = `
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1a1a1a;font-size:11pt}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.15rem;border-bottom:1px solid #999;padding-bottom:.2rem;margin-top:1.6rem}
.meta{color:#444;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.totals{display:flex;flex-wrap:wrap;gap:.5rem}
.totals div{border:1px solid #bbb;padding:.4rem .7rem;min-width:7rem}
.totals b{display:block;font-size:1.3rem}
.empty{color:#555;font-style:italic}
svg text{font-size:11px;font-family:inherit}
section{break-inside:avoid;page-break-inside:avoid}
@media print{
  @page{size:A4;margin:15mm}
  body{margin:0;font-size:10pt}
  h2{break-after:avoid;page-break-after:avoid}
  section.page{break-before:page;page-break-before:always}
  tr{break-inside:avoid;page-break-inside:avoid}
  th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  svg rect{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
`;

/** A horizontal bar chart: allowed (green) and denied (red) stacked, one bar per row. */
function barChart(title: string, rows: readonly (DecisionCounts & { readonly label: string })[]): string {
  if (rows.length === 0) return '';
  const shown = rows.slice(0, 20);
  const max = Math.max(1, ...shown.map((r) => r.total));
  const labelWidth = 180;
  const barWidth = 420;
  const rowHeight = 22;
  const height = shown.length * rowHeight + 24;
  const bars = shown
    .map((r, i) => {
      const y = i * rowHeight + 4;
      const allowedWidth = (r.allowed / max) * barWidth;
      const deniedWidth = (r.denied / max) * barWidth;
      return (
        `<text x="${labelWidth - 6}" y="${y + 14}" text-anchor="end">${escapeHtml(r.label)}</text>` +
        `<rect x="${labelWidth}" y="${y}" width="${allowedWidth.toFixed(1)}" height="16" fill="#2e7d32"/>` +
        `<rect x="${(labelWidth + allowedWidth).toFixed(1)}" y="${y}" width="${deniedWidth.toFixed(1)}" height="16" fill="#c62828"/>` +
        `<text x="${(labelWidth + allowedWidth + deniedWidth + 6).toFixed(1)}" y="${y + 14}">${r.total}</text>`
      );
    })
    .join('');
  const legendY = shown.length * rowHeight + 18;
  return (
    `<svg role="img" aria-label="${escapeHtml(title)}" width="${labelWidth + barWidth + 60}" height="${height}" ` +
    `viewBox="0 0 ${labelWidth + barWidth + 60} ${height}" xmlns="http://www.w3.org/2000/svg">` +
    `<title>${escapeHtml(title)}</title>${bars}` +
    `<rect x="${labelWidth}" y="${legendY - 9}" width="10" height="10" fill="#2e7d32"/>` +
    `<text x="${labelWidth + 14}" y="${legendY}">allowed</text>` +
    `<rect x="${labelWidth + 80}" y="${legendY - 9}" width="10" height="10" fill="#c62828"/>` +
    `<text x="${labelWidth + 94}" y="${legendY}">denied</text></svg>`
  );
}

function table(
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  empty: string,
): string {
  if (rows.length === 0) return `<p class="empty">${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr>${row.map((cell) => (typeof cell === 'number' ? `<td class="n">${cell}</td>` : `<td>${escapeHtml(cell)}</td>`)).join('')}</tr>`,
    )
    .join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function section(title: string, body: string, newPage = false): string {
  return `<section${newPage ? ' class="page"' : ''}><h2>${escapeHtml(title)}</h2>${body}</section>`;
}

/** The report as a printable, self-contained HTML page. */
export function renderComplianceHtml(report: ComplianceReport): string {
  const t = report.totals;
  const totals = [
    ['Release decisions', t.total],
    ['Allowed', t.allowed],
    ['Denied', t.denied],
    ['Onward releases', t.onward],
    ['Approvals', t.approvals],
    ['Recalls', t.recalls],
    ['Product reads', t.reads],
    ['Incidents', t.incidents],
  ] as const;
  const a = report.anomalies;
  const th = report.thresholds;
  const parts = [
    section(
      'Totals',
      `<div class="totals">${totals.map(([label, n]) => `<div>${escapeHtml(label)}<b>${n}</b></div>`).join('')}</div>`,
    ),
    section(
      'Releases by partner pair',
      barChart(
        'Releases by partner pair',
        report.byPair.map((p) => ({ ...p, label: `${p.sender} → ${p.recipient}` })),
      ) +
        table(
          ['Sender', 'Recipient', 'Allowed', 'Denied', 'Total'],
          report.byPair.map((p) => [p.sender, p.recipient, p.allowed, p.denied, p.total]),
          'No release decision in the period.',
        ),
    ),
    section(
      'Releases by classification',
      barChart(
        'Releases by classification',
        report.byClassification.map((c) => ({ ...c, label: c.level })),
      ) +
        table(
          ['Classification', 'Allowed', 'Denied', 'Total'],
          report.byClassification.map((c) => [c.level, c.allowed, c.denied, c.total]),
          'No release decision in the period.',
        ),
    ),
    section(
      'Releases by discipline',
      barChart(
        'Releases by discipline',
        report.byDiscipline.map((d) => ({ ...d, label: d.discipline })),
      ) +
        table(
          ['Discipline', 'Allowed', 'Denied', 'Total'],
          report.byDiscipline.map((d) => [d.discipline, d.allowed, d.denied, d.total]),
          'No release decision in the period.',
        ),
    ),
    section(
      'Denials by rule',
      barChart(
        'Denials by rule',
        report.denialsByRule.map((r) => ({
          label: r.rule,
          total: r.count,
          allowed: 0,
          denied: r.count,
        })),
      ) +
        table(
          ['Rule', 'Denials'],
          report.denialsByRule.map((r) => [r.rule, r.count]),
          'No denial in the period.',
        ),
      true,
    ),
    section(
      'Approvals',
      table(
        ['Approver', 'Approved', 'Rejected'],
        report.approvals.map((r) => [r.approver, r.approved, r.rejected]),
        'No approval decision in the period.',
      ),
    ),
    section(
      'Recalls',
      table(
        ['Recall', 'Product', 'Version', 'By', 'At', 'Recipients', 'Acknowledged', 'Pending', 'Failed'],
        report.recalls.map((r) => [
          r.id,
          r.productId,
          String(r.version),
          r.by,
          r.at,
          r.recipients,
          r.acknowledged,
          r.pending,
          r.failed,
        ]),
        'No recall in the period.',
      ),
    ),
    section(
      'Incidents',
      table(
        ['Incident', 'Reported at', 'By', 'Suspected party', 'Severity', 'State', 'Products', 'Steps'],
        report.incidents.items.map((i) => [
          i.id,
          i.reportedAt,
          i.origin,
          i.suspectedParty,
          i.severity,
          i.state,
          i.products,
          i.steps,
        ]),
        'No incident in the period.',
      ),
    ),
    section(
      'Anomalies',
      `<h3>Heavy readers</h3><p class="meta">More than ${th.readFactor}× the median of the other readers, and at least ${th.minReads} reads.</p>` +
        table(
          ['User', 'Reads', 'Median of peers'],
          a.heavyReaders.map((r) => [r.username, r.reads, r.peerMedian]),
          'None.',
        ) +
        `<h3>Releases at unusual hours</h3><p class="meta">Before ${th.dayStartHour}:00 or from ${th.dayEndHour}:00 UTC, or on UTC days ${escapeHtml(th.weekendDays.join(', '))} (0 = Sunday).</p>` +
        table(
          ['Release', 'Product', 'Recipient', 'By', 'At', 'Why'],
          a.offHoursReleases.map((r) => [r.releaseId, r.productId, r.recipient, r.by, r.at, r.why]),
          'None.',
        ) +
        `<h3>Repeated denials</h3><p class="meta">At least ${th.minDenials} denied releases by one user.</p>` +
        table(
          ['User', 'Denials'],
          a.repeatedDenials.map((r) => [r.username, r.denials]),
          'None.',
        ),
      true,
    ),
  ];
  const title = `Compliance report: ${report.arrangement}`;
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><style>${COMPLIANCE_CSS}</style></head><body>` +
    `<h1>${escapeHtml(title)}</h1>` +
    `<p class="meta">Period ${escapeHtml(report.period.from)} to ${escapeHtml(report.period.to)} (end excluded). ` +
    'Metadata only: no product title or content appears in this report.</p>' +
    `${parts.join('\n')}</body></html>\n`
  );
}
