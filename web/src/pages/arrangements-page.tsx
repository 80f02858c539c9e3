import { Link } from '../router.js';
import { useApi } from '../use-api.js';

/** The parts of an arrangement the console shows (the API returns the whole signed document). */
export interface ArrangementDoc {
  readonly id: string;
  readonly version: number;
  readonly title: string;
  readonly type: string;
  readonly legalBasis?: string;
  readonly parties: readonly { readonly partner: string; readonly role: string }[];
  readonly scope: {
    readonly disciplines: readonly string[];
    readonly categories: readonly string[];
    readonly ceiling: string;
    readonly caveats?: readonly string[];
    readonly controls?: readonly string[];
  };
  readonly effective: string;
  readonly expires: string;
  readonly review?: string;
  readonly thirdPartyRule: boolean;
  readonly releaseApproval?: { readonly fromLevel: string; readonly approvals: number };
  readonly oversight?: { readonly body: string };
  readonly breachProtocol?: {
    readonly notifyWithinHours: number;
    readonly autoSuspendOnConfirmedBreach: boolean;
    readonly recall: boolean;
  };
  readonly signatures?: readonly { readonly partner: string; readonly signedAt?: string }[];
  readonly suspensions?: readonly { readonly partner: string; readonly reason?: string }[];
}

export interface ArrangementRecord {
  readonly id: string;
  readonly version: number;
  readonly status: string;
  readonly document: ArrangementDoc;
  readonly updatedAt: string;
}

export function ArrangementsPage() {
  const { data, error } = useApi<ArrangementRecord[]>('/api/v1/arrangements');
  return (
    <section aria-labelledby="arr-title">
      <h1 id="arr-title">Arrangements</h1>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table>
        <caption className="visually-hidden">Arrangements this node holds</caption>
        <thead>
          <tr>
            <th scope="col">Arrangement</th>
            <th scope="col">Type</th>
            <th scope="col">Parties</th>
            <th scope="col">Ceiling</th>
            <th scope="col">Status</th>
            <th scope="col">Version</th>
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((a) => (
            <tr key={a.id}>
              <td>
                <Link to={`/arrangements/${encodeURIComponent(a.id)}`}>{a.document.title}</Link>
                <div className="muted">{a.id}</div>
              </td>
              <td>{a.document.type}</td>
              <td>{a.document.parties.map((p) => p.partner).join(', ')}</td>
              <td>{a.document.scope.ceiling}</td>
              <td>
                <span className={`status status-${a.status}`}>{a.status}</span>
              </td>
              <td>{a.version}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function ArrangementPage({ id }: { readonly id: string }) {
  const { data, error } = useApi<ArrangementRecord>(`/api/v1/arrangements/${encodeURIComponent(id)}`);
  if (error !== null)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (data === undefined) return <p>Loading…</p>;
  const d = data.document;
  return (
    <article aria-labelledby="arr-detail-title">
      <h1 id="arr-detail-title">{d.title}</h1>
      <p>
        <Link to="/arrangements">All arrangements</Link>
      </p>
      <dl className="facts">
        <dt>Id and version</dt>
        <dd>
          {d.id} v{data.version}
        </dd>
        <dt>Status</dt>
        <dd>
          <span className={`status status-${data.status}`}>{data.status}</span>
        </dd>
        <dt>Type</dt>
        <dd>{d.type}</dd>
        <dt>Legal basis</dt>
        <dd>{d.legalBasis ?? '—'}</dd>
        <dt>Parties</dt>
        <dd>{d.parties.map((p) => `${p.partner} (${p.role})`).join(', ')}</dd>
        <dt>Disciplines</dt>
        <dd>{d.scope.disciplines.join(', ')}</dd>
        <dt>Categories</dt>
        <dd>{d.scope.categories.join(', ')}</dd>
        <dt>Ceiling</dt>
        <dd>{d.scope.ceiling}</dd>
        <dt>Caveats allowed</dt>
        <dd>{(d.scope.caveats ?? []).join(', ') || 'none'}</dd>
        <dt>Controls allowed</dt>
        <dd>{(d.scope.controls ?? []).join(', ') || 'none'}</dd>
        <dt>Valid</dt>
        <dd>
          {d.effective} to {d.expires}
          {d.review === undefined ? '' : `; review by ${d.review}`}
        </dd>
        <dt>Third-party rule</dt>
        <dd>
          {d.thirdPartyRule ? 'applies: onward release needs the originator’s consent' : 'does not apply'}
        </dd>
        <dt>Release approval</dt>
        <dd>
          {d.releaseApproval === undefined
            ? 'none required'
            : `${d.releaseApproval.approvals} approval(s) from ${d.releaseApproval.fromLevel}`}
        </dd>
        <dt>Oversight body</dt>
        <dd>{d.oversight?.body ?? '—'}</dd>
        <dt>Breach protocol</dt>
        <dd>
          {d.breachProtocol === undefined
            ? '—'
            : `notify within ${d.breachProtocol.notifyWithinHours} h; ${d.breachProtocol.recall ? 'recall' : 'no recall'}; ${d.breachProtocol.autoSuspendOnConfirmedBreach ? 'suspend on a confirmed breach' : 'no automatic suspension'}`}
        </dd>
        <dt>Signed by</dt>
        <dd>{(d.signatures ?? []).map((s) => s.partner).join(', ') || 'nobody yet'}</dd>
        <dt>Suspended partners</dt>
        <dd>{(d.suspensions ?? []).map((s) => s.partner).join(', ') || 'none'}</dd>
      </dl>
    </article>
  );
}
