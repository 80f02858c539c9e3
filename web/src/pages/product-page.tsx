import { useState } from 'react';
import { api, hasRole, messageOf, type ProductView } from '../api.js';
import { Marking, useOnScreen } from '../classification.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { useApi } from '../use-api.js';

/** Admiralty / NATO source reliability. */
export const RELIABILITY_MEANING: Readonly<Record<string, string>> = {
  A: 'completely reliable',
  B: 'usually reliable',
  C: 'fairly reliable',
  D: 'not usually reliable',
  E: 'unreliable',
  F: 'reliability cannot be judged',
};

/** Admiralty / NATO information credibility. */
export const CREDIBILITY_MEANING: Readonly<Record<number, string>> = {
  1: 'confirmed by other sources',
  2: 'probably true',
  3: 'possibly true',
  4: 'doubtful',
  5: 'improbable',
  6: 'truth cannot be judged',
};

/** Portions, each with its mark, and the notice of what this reader may not see. */
export function ProductBody({ product }: { readonly product: ProductView }) {
  const torn = product.provenance?.withheldAtRelease ?? 0;
  return (
    <>
      <h1 className="product-title">
        <Marking value={product.titleMarking} />{' '}
        {product.titleWithheld ? <em>(title withheld)</em> : product.title}
      </h1>
      {(product.withheldCount > 0 || torn > 0) && (
        <div className="withheld-notice" role="note" data-testid="withheld-notice">
          {product.withheldCount > 0 && (
            <p>
              {product.withheldCount === 1 ? '1 portion is' : `${product.withheldCount} portions are`}{' '}
              withheld from you: your clearance, nationality or caveats do not allow{' '}
              {product.withheldCount === 1 ? 'it' : 'them'}. Neither content nor marking is shown.
            </p>
          )}
          {torn > 0 && (
            <p>
              {torn === 1 ? '1 portion was' : `${torn} portions were`} withheld at release: the originator’s
              policy tore {torn === 1 ? 'it' : 'them'} out before the product left, so{' '}
              {torn === 1 ? 'it' : 'they'} never reached this node.
            </p>
          )}
        </div>
      )}
      <ol className="portions" aria-label="Portions">
        {product.portions.map((portion) => (
          <li key={portion.id} data-testid="portion">
            <Marking value={portion.marking} /> <span className="portion-text">{portion.text}</span>
          </li>
        ))}
      </ol>
      <dl className="facts">
        <dt>Originator</dt>
        <dd>{product.originator}</dd>
        <dt>Discipline</dt>
        <dd>{product.discipline}</dd>
        <dt>Categories</dt>
        <dd>{product.categories.join(', ')}</dd>
        <dt>Source reliability</dt>
        <dd>
          {product.reliability} — {RELIABILITY_MEANING[product.reliability] ?? 'unknown'}
        </dd>
        <dt>Information credibility</dt>
        <dd>
          {product.credibility} — {CREDIBILITY_MEANING[product.credibility] ?? 'unknown'}
        </dd>
        <dt>Written</dt>
        <dd>
          <time dateTime={product.createdAt}>{new Date(product.createdAt).toUTCString()}</time>
        </dd>
        <dt>Version</dt>
        <dd>{product.version}</dd>
        {product.geo !== null && (
          <>
            <dt>Footprint</dt>
            <dd>
              <Link to={`/map?focus=${encodeURIComponent(product.id)}`}>show on the map</Link>
            </dd>
          </>
        )}
      </dl>
    </>
  );
}

function Provenance({ product }: { readonly product: ProductView }) {
  const p = product.provenance;
  if (p === undefined) return null;
  return (
    <section aria-labelledby="prov-title" className="card">
      <h2 id="prov-title">Provenance</h2>
      <dl className="facts" data-testid="provenance">
        <dt>Originator</dt>
        <dd>{p.originator}</dd>
        <dt>Sent by</dt>
        <dd>{p.sender}</dd>
        <dt>Signature</dt>
        <dd className={p.signature.verified ? 'ok' : 'error'}>
          {p.signature.verified
            ? `verified (key ${p.signature.by.slice(0, 23)}…)`
            : `NOT verified: ${p.signature.reason ?? p.signature.code ?? 'unknown'}`}
        </dd>
        <dt>Arrangement</dt>
        <dd>
          <Link to={`/arrangements/${encodeURIComponent(p.arrangement.id)}`}>{p.arrangement.id}</Link> version{' '}
          {p.arrangement.version}
        </dd>
        <dt>Derived from</dt>
        <dd>
          {p.derivedFrom === undefined
            ? `${product.id} as released`
            : `${p.derivedFrom.id} version ${p.derivedFrom.version}`}
        </dd>
        <dt>Torn at release</dt>
        <dd>{p.withheldAtRelease} portion(s) never left the sender</dd>
        <dt>Received</dt>
        <dd>
          <time dateTime={p.receivedAt}>{new Date(p.receivedAt).toUTCString()}</time>
        </dd>
      </dl>
    </section>
  );
}

function Workflow({ product, reload }: { readonly product: ProductView; readonly reload: () => void }) {
  const { user } = useSession();
  const [message, setMessage] = useState<string | null>(null);
  const act = async (path: string) => {
    try {
      await api('POST', `/api/v1/products/${encodeURIComponent(product.id)}/${path}`);
      setMessage(null);
      reload();
    } catch (e) {
      setMessage(messageOf(e));
    }
  };
  const editable = product.state === 'draft' || product.state === 'rejected';
  const isAuthor = product.author === user?.username;
  return (
    <div className="actions">
      <span>
        State: <strong data-testid="product-state">{product.state}</strong>
      </span>
      {editable && isAuthor && hasRole(user, 'analyst') && (
        <>
          <Link className="button" to={`/compose/${encodeURIComponent(product.id)}`}>
            Edit
          </Link>
          <button type="button" onClick={() => void act('submit')}>
            Submit for approval
          </button>
        </>
      )}
      {hasRole(user, 'release-officer') && (
        <Link className="button" to={`/queue?product=${encodeURIComponent(product.id)}`}>
          Open in release queue
        </Link>
      )}
      {message !== null && (
        <p role="alert" className="error">
          {message}
        </p>
      )}
    </div>
  );
}

interface ReleaseRecord {
  readonly id: string;
  readonly version: number;
  readonly recipient: string;
  readonly arrangementId: string | null;
  readonly effect: 'allow' | 'deny';
  readonly decision: { readonly deniedBy?: readonly string[] };
  readonly by: string;
  readonly at: string;
}

/** Release decisions taken on an own product: who received which version, or why not. */
function Releases({ id }: { readonly id: string }) {
  const { data, error } = useApi<ReleaseRecord[]>(`/api/v1/products/${encodeURIComponent(id)}/releases`);
  if (error !== null)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (data === undefined || data.length === 0) return null;
  return (
    <table data-testid="releases">
      <caption>Release decisions</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Version</th>
          <th scope="col">To</th>
          <th scope="col">Arrangement</th>
          <th scope="col">Decision</th>
          <th scope="col">By</th>
        </tr>
      </thead>
      <tbody>
        {data.map((r) => (
          <tr key={r.id}>
            <td>{r.at}</td>
            <td>{r.version}</td>
            <td>{r.recipient}</td>
            <td>{r.arrangementId ?? '—'}</td>
            <td className={r.effect === 'allow' ? 'ok' : 'error'}>
              {r.effect === 'allow' ? 'released' : `denied: ${(r.decision.deniedBy ?? []).join(', ')}`}
            </td>
            <td>{r.by}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ProductPage({ source, id }: { readonly source: 'own' | 'received'; readonly id: string }) {
  const path = `/api/v1/${source === 'own' ? 'products' : 'received'}/${encodeURIComponent(id)}`;
  const { data, error, reload } = useApi<ProductView>(path);
  useOnScreen(
    'product',
    data === undefined ? [] : [data.banner, data.titleMarking, ...data.portions.map((p) => p.marking)],
    data?.originator,
  );
  if (error !== null)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (data === undefined) return <p>Loading…</p>;
  return (
    <article aria-label="Product" className="product">
      <p className="product-banner">
        <Marking value={data.banner} />
      </p>
      <ProductBody product={data} />
      {source === 'own' ? (
        <>
          <Workflow product={data} reload={reload} />
          <Releases id={data.id} />
        </>
      ) : (
        <Provenance product={data} />
      )}
    </article>
  );
}
