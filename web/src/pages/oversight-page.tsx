import { useState } from 'react';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { useApi } from '../use-api.js';
import type { ArrangementRecord } from './arrangements-page.js';

interface Counts {
  readonly total: number;
  readonly allowed: number;
  readonly denied: number;
}

interface ComplianceReport {
  readonly arrangement: string;
  readonly period: { readonly from: string; readonly to: string };
  readonly totals: Counts & { readonly incidents: number; readonly recalls: number; readonly reads: number };
  readonly byPair: readonly (Counts & { readonly sender: string; readonly recipient: string })[];
  readonly denialsByRule: readonly { readonly rule: string; readonly count: number }[];
}

interface TreeHead {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly timestamp: string;
  readonly nodeId: string;
  readonly signature: string;
}

export interface Incident {
  readonly id: string;
  readonly kind: string;
  readonly partner: string;
  readonly state: string;
  readonly severity: string | null;
  readonly detectedAt: string;
  readonly arrangement: { readonly id: string; readonly version: number } | null;
  readonly origin: string | null;
  readonly description: string | null;
}

const DAY = 86_400_000;

/** Sharing flows as arrows between partners on a circle; width by releases, red share denied. */
function FlowChart({ pairs }: { readonly pairs: ComplianceReport['byPair'] }) {
  const partners = [...new Set(pairs.flatMap((p) => [p.sender, p.recipient]))].sort();
  const size = 360;
  const centre = size / 2;
  const radius = size / 2 - 50;
  const at = (code: string) => {
    const angle = (2 * Math.PI * partners.indexOf(code)) / Math.max(partners.length, 1) - Math.PI / 2;
    return { x: centre + radius * Math.cos(angle), y: centre + radius * Math.sin(angle) };
  };
  const most = Math.max(1, ...pairs.map((p) => p.total));
  return (
    <svg
      viewBox={`0 0 ${size} ${size}`}
      width={size}
      height={size}
      className="chart"
      role="img"
      aria-labelledby="flow-desc"
      data-testid="flow-chart"
    >
      <desc id="flow-desc">
        Releases between partners in the period; the table beside it gives the same figures.
      </desc>
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="6"
          markerHeight="6"
          orient="auto"
        >
          <path d="M0,0 L10,5 L0,10 z" fill="#004f9f" />
        </marker>
      </defs>
      {pairs.map((p) => {
        const a = at(p.sender);
        const b = at(p.recipient);
        // Bend each arrow to the right of its direction so A→B and B→A do not overlap.
        const mx = (a.x + b.x) / 2 + (b.y - a.y) * 0.15;
        const my = (a.y + b.y) / 2 - (b.x - a.x) * 0.15;
        return (
          <path
            key={`${p.sender}-${p.recipient}`}
            d={`M${a.x},${a.y} Q${mx},${my} ${b.x},${b.y}`}
            fill="none"
            stroke={p.denied > p.allowed ? '#a4000f' : '#004f9f'}
            strokeWidth={1 + (6 * p.total) / most}
            markerEnd="url(#arrow)"
          >
            <title>
              {p.sender} → {p.recipient}: {p.allowed} released, {p.denied} denied
            </title>
          </path>
        );
      })}
      {partners.map((code) => {
        const { x, y } = at(code);
        return (
          <g key={code}>
            <circle cx={x} cy={y} r={22} fill="#ffffff" stroke="#1a1a1a" />
            <text x={x} y={y + 4} textAnchor="middle" fontWeight="700">
              {code}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** Denials per rule as horizontal bars. */
function DenialChart({ rows }: { readonly rows: ComplianceReport['denialsByRule'] }) {
  const most = Math.max(1, ...rows.map((r) => r.count));
  const height = 24 * rows.length + 10;
  return (
    <svg
      viewBox={`0 0 520 ${height}`}
      width="520"
      height={height}
      className="chart bars"
      role="img"
      aria-label="Denials by rule; the same figures are in the table below"
    >
      {rows.map((r, i) => (
        <g key={r.rule} transform={`translate(0, ${i * 24 + 5})`}>
          <text x={190} y={14} textAnchor="end">
            {r.rule}
          </text>
          <rect x={200} y={2} height={16} width={(300 * r.count) / most} />
          <text x={205 + (300 * r.count) / most} y={14}>
            {r.count}
          </text>
        </g>
      ))}
    </svg>
  );
}

function AuditStatus({
  incidents,
  parties,
}: {
  readonly incidents: readonly Incident[];
  readonly parties: readonly string[];
}) {
  const { user } = useSession();
  const head = useApi<TreeHead>('/api/v1/audit/tree-head');
  const peers = parties.filter((p) => p !== user?.nationality);
  const forks = incidents.filter((i) => i.kind === 'fork');
  return (
    <section aria-labelledby="audit-title" className="card">
      <h2 id="audit-title">Audit verification by node</h2>
      <table data-testid="audit-status">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">This node{user === null ? '' : ` (${user.nationality})`}</th>
            <td>
              {head.error !== null ? (
                <span className="error">no signed tree head: {head.error}</span>
              ) : head.data === undefined ? (
                'loading…'
              ) : (
                <span className="ok">
                  signed tree head: {head.data.treeSize} entries at {head.data.timestamp}, root{' '}
                  {head.data.rootHash.slice(0, 16)}…
                </span>
              )}
            </td>
          </tr>
          {peers.map((partner) => {
            const fork = forks.find((f) => f.partner === partner);
            return (
              <tr key={partner}>
                <th scope="row">{partner}</th>
                <td>
                  {fork === undefined ? (
                    <span className="ok">no fork recorded by gossip</span>
                  ) : (
                    <span className="error">
                      fork detected {fork.detectedAt} ({fork.state})
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

/** Oversight: audit status, sharing flows, denials by rule and incidents of one arrangement. */
export function OversightPage() {
  const arrangements = useApi<ArrangementRecord[]>('/api/v1/arrangements');
  const [chosen, setChosen] = useState('');
  const [days, setDays] = useState(30);
  const arrangement = chosen || arrangements.data?.[0]?.id || '';
  const to = new Date(Math.ceil(Date.now() / DAY) * DAY + DAY).toISOString().slice(0, 10);
  const from = new Date(Date.parse(to) - days * DAY).toISOString().slice(0, 10);
  const report = useApi<ComplianceReport>(
    arrangement === ''
      ? null
      : `/api/v1/reports/compliance?arrangement=${encodeURIComponent(arrangement)}&from=${from}&to=${to}`,
  );
  const incidents = useApi<Incident[] | { items: Incident[] }>('/api/v1/incidents');
  const incidentList =
    incidents.data === undefined ? [] : Array.isArray(incidents.data) ? incidents.data : incidents.data.items;
  const parties =
    arrangements.data?.find((a) => a.id === arrangement)?.document.parties.map((p) => p.partner) ?? [];

  return (
    <section aria-labelledby="oversight-title">
      <h1 id="oversight-title">Oversight</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Report period">
        <div>
          <label htmlFor="o-arrangement">Arrangement</label>
          <select id="o-arrangement" value={arrangement} onChange={(e) => setChosen(e.target.value)}>
            {(arrangements.data ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.document.title}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="o-days">Period</label>
          <select id="o-days" value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={7}>last 7 days</option>
            <option value={30}>last 30 days</option>
            <option value={365}>last year</option>
          </select>
        </div>
      </form>
      <AuditStatus incidents={incidentList} parties={parties} />
      {report.error !== null && (
        <p role="alert" className="error">
          {report.error}
        </p>
      )}
      {report.data !== undefined && (
        <>
          <section aria-labelledby="flows-title" className="card">
            <h2 id="flows-title">Sharing flows between partners</h2>
            <p>
              {report.data.totals.total} release decisions: {report.data.totals.allowed} released,{' '}
              {report.data.totals.denied} denied; {report.data.totals.recalls} recalls,{' '}
              {report.data.totals.incidents} incidents, from {report.data.period.from} to{' '}
              {report.data.period.to}.
            </p>
            <div className="actions">
              <FlowChart pairs={report.data.byPair} />
              <table>
                <caption>Releases by pair</caption>
                <thead>
                  <tr>
                    <th scope="col">From</th>
                    <th scope="col">To</th>
                    <th scope="col">Released</th>
                    <th scope="col">Denied</th>
                  </tr>
                </thead>
                <tbody>
                  {report.data.byPair.map((p) => (
                    <tr key={`${p.sender}-${p.recipient}`}>
                      <td>{p.sender}</td>
                      <td>{p.recipient}</td>
                      <td>{p.allowed}</td>
                      <td>{p.denied}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          <section aria-labelledby="denials-title" className="card">
            <h2 id="denials-title">Denials by rule</h2>
            {report.data.denialsByRule.length === 0 ? (
              <p>No denials in the period.</p>
            ) : (
              <>
                <DenialChart rows={report.data.denialsByRule} />
                <table>
                  <caption className="visually-hidden">Denials by rule</caption>
                  <thead>
                    <tr>
                      <th scope="col">Rule</th>
                      <th scope="col">Denials</th>
                    </tr>
                  </thead>
                  <tbody>
                    {report.data.denialsByRule.map((r) => (
                      <tr key={r.rule}>
                        <td>{r.rule}</td>
                        <td>{r.count}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
          </section>
        </>
      )}
      <section aria-labelledby="incidents-title" className="card">
        <h2 id="incidents-title">Incidents</h2>
        {incidents.error !== null && (
          <p role="alert" className="error">
            {incidents.error}
          </p>
        )}
        <table data-testid="incidents">
          <thead>
            <tr>
              <th scope="col">Detected</th>
              <th scope="col">Kind</th>
              <th scope="col">Partner</th>
              <th scope="col">Arrangement</th>
              <th scope="col">Severity</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {incidentList.map((i) => (
              <tr key={i.id}>
                <td>{i.detectedAt}</td>
                <td>{i.kind}</td>
                <td>{i.partner}</td>
                <td>
                  {i.arrangement === null ? (
                    '—'
                  ) : (
                    <Link to={`/arrangements/${encodeURIComponent(i.arrangement.id)}`}>
                      {i.arrangement.id}
                    </Link>
                  )}
                </td>
                <td>{i.severity ?? '—'}</td>
                <td>{i.state}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {incidentList.length === 0 && incidents.error === null && <p>No incidents.</p>}
      </section>
    </section>
  );
}
