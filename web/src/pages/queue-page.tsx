import { useState } from 'react';
import { api, messageOf, type Page, type ProductView } from '../api.js';
import { Marking, useOnScreen } from '../classification.js';
import { Link, navigate, useLocation } from '../router.js';
import { useApi } from '../use-api.js';
import { PreviewTable, type ReleasePreview } from './compose-page.js';
import { ProductBody } from './product-page.js';

const QUEUED = ['submitted', 'approved', 'released'];

function Decide({ product, onDone }: { readonly product: ProductView; readonly onDone: () => void }) {
  const [comment, setComment] = useState('');
  const [message, setMessage] = useState<{ readonly kind: 'ok' | 'error'; readonly text: string } | null>(
    null,
  );
  const preview = useApi<{ previews: ReleasePreview[] }>(
    `/api/v1/products/${encodeURIComponent(product.id)}/release-preview?v=${product.version}&s=${product.state}`,
  );
  const act = async (what: string, body?: unknown, done?: string) => {
    setMessage(null);
    try {
      await api('POST', `/api/v1/products/${encodeURIComponent(product.id)}/${what}`, body);
      setMessage({ kind: 'ok', text: done ?? `${what} done` });
      onDone();
    } catch (e) {
      setMessage({ kind: 'error', text: messageOf(e) });
    }
  };
  const releasable = product.state === 'approved' || product.state === 'released';
  return (
    <section aria-labelledby="decide-title" className="card">
      <h2 id="decide-title">Decide and release</h2>
      <p>
        State: <strong data-testid="queue-state">{product.state}</strong> · written by {product.author}
      </p>
      <ProductBody product={product} />
      {product.state === 'submitted' && (
        <div>
          <label htmlFor="q-comment">Comment to the author</label>
          <textarea id="q-comment" value={comment} onChange={(e) => setComment(e.target.value)} />
          <div className="actions">
            <button type="button" onClick={() => void act('approve', { comment }, 'Approved.')}>
              Approve
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => void act('reject', { comment }, 'Rejected.')}
            >
              Reject
            </button>
          </div>
        </div>
      )}
      {preview.error !== null && (
        <p role="alert" className="error">
          {preview.error}
        </p>
      )}
      {preview.data !== undefined && <PreviewTable previews={preview.data.previews} />}
      {releasable && preview.data !== undefined && (
        <fieldset className="actions">
          <legend>Release</legend>
          {preview.data.previews
            .filter((p) => p.effect === 'allow')
            .map((p) => (
              <button
                type="button"
                key={`${p.arrangement.id}:${p.recipient}`}
                onClick={() =>
                  void act(
                    'releases',
                    { to: p.recipient, arrangement: p.arrangement.id },
                    `Released to ${p.recipient} under ${p.arrangement.id}.`,
                  )
                }
              >
                Release to {p.recipient} under {p.arrangement.id}
              </button>
            ))}
        </fieldset>
      )}
      {message !== null && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} className={message.kind}>
          {message.text}
        </p>
      )}
    </section>
  );
}

/** The release officer's queue: submitted products to approve or reject, approved ones to release. */
export function QueuePage() {
  const { query } = useLocation();
  const selected = query.get('product');
  const list = useApi<Page<ProductView>>('/api/v1/products?limit=200');
  const one = useApi<ProductView>(
    selected === null ? null : `/api/v1/products/${encodeURIComponent(selected)}`,
  );
  const queued = (list.data?.items ?? []).filter((p) => QUEUED.includes(p.state ?? ''));
  useOnScreen('queue', [
    ...queued.map((p) => p.banner),
    ...(one.data === undefined ? [] : [one.data.banner]),
  ]);
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">Release queue</h1>
      {list.error !== null && (
        <p role="alert" className="error">
          {list.error}
        </p>
      )}
      <table>
        <caption className="visually-hidden">Products awaiting a decision or release</caption>
        <thead>
          <tr>
            <th scope="col">Classification</th>
            <th scope="col">Title</th>
            <th scope="col">Author</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {queued.map((p) => (
            <tr key={p.id}>
              <td>
                <Marking value={p.banner} />
              </td>
              <td>
                <Link to={`/queue?product=${encodeURIComponent(p.id)}`} current={p.id === selected}>
                  {p.title}
                </Link>
              </td>
              <td>{p.author}</td>
              <td>{p.state}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {queued.length === 0 && <p>Nothing awaits a decision.</p>}
      {one.error !== null && (
        <p role="alert" className="error">
          {one.error}
        </p>
      )}
      {one.data !== undefined && (
        <Decide
          product={one.data}
          onDone={() => {
            one.reload();
            list.reload();
            if (selected !== null) navigate(`/queue?product=${encodeURIComponent(selected)}`);
          }}
        />
      )}
    </section>
  );
}
