import { type FormEvent, useState } from 'react';
import { api, messageOf } from '../api.js';
import { useSession } from '../session.js';
import { useApi } from '../use-api.js';
import type { ArrangementRecord } from './arrangements-page.js';
import type { Incident } from './oversight-page.js';

const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

/** Report a suspected breach under an arrangement; its breach protocol then runs. */
export function IncidentPage() {
  const { user } = useSession();
  const arrangements = useApi<ArrangementRecord[]>('/api/v1/arrangements');
  const [chosen, setChosen] = useState('');
  const [party, setParty] = useState('');
  const [products, setProducts] = useState('');
  const [severity, setSeverity] = useState<(typeof SEVERITIES)[number]>('medium');
  const [description, setDescription] = useState('');
  const [message, setMessage] = useState<{ readonly kind: 'ok' | 'error'; readonly text: string } | null>(
    null,
  );
  const [busy, setBusy] = useState(false);

  const arrangement = arrangements.data?.find((a) => a.id === (chosen || arrangements.data?.[0]?.id));
  const others = (arrangement?.document.parties ?? [])
    .map((p) => p.partner)
    .filter((p) => p !== user?.nationality);
  const suspected = party || others[0] || '';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (arrangement === undefined) return;
    setBusy(true);
    setMessage(null);
    try {
      const incident = await api<Incident>('POST', '/api/v1/incidents', {
        arrangement: arrangement.id,
        suspectedParty: suspected,
        products: products
          .split(/[\s,]+/)
          .map((p) => p.trim())
          .filter((p) => p !== ''),
        severity,
        description,
      });
      setMessage({
        kind: 'ok',
        text: `Incident ${incident.id} reported (${incident.state}); the parties are being told.`,
      });
      setDescription('');
      setProducts('');
    } catch (e) {
      setMessage({ kind: 'error', text: messageOf(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form aria-labelledby="incident-title" onSubmit={(e) => void submit(e)} className="card">
      <h1 id="incident-title">Report an incident</h1>
      <p>
        A suspected breach or misuse under an arrangement. The arrangement’s breach protocol runs at once:
        every party is told, and products may be recalled.
      </p>
      {arrangements.error !== null && (
        <p role="alert" className="error">
          {arrangements.error}
        </p>
      )}
      <div className="form-grid">
        <label htmlFor="i-arrangement">Arrangement</label>
        <select
          id="i-arrangement"
          value={arrangement?.id ?? ''}
          onChange={(e) => {
            setChosen(e.target.value);
            setParty('');
          }}
        >
          {(arrangements.data ?? []).map((a) => (
            <option key={a.id} value={a.id}>
              {a.document.title}
            </option>
          ))}
        </select>
        <label htmlFor="i-party">Suspected party</label>
        <select id="i-party" value={suspected} onChange={(e) => setParty(e.target.value)}>
          {others.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
        <label htmlFor="i-products">Products involved (ids, comma-separated)</label>
        <input id="i-products" value={products} onChange={(e) => setProducts(e.target.value)} />
        <label htmlFor="i-severity">Severity</label>
        <select
          id="i-severity"
          value={severity}
          onChange={(e) => setSeverity(e.target.value as (typeof SEVERITIES)[number])}
        >
          {SEVERITIES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <label htmlFor="i-description">What happened</label>
        <textarea
          id="i-description"
          required
          maxLength={4000}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
        />
      </div>
      <div className="actions">
        <button type="submit" disabled={busy || arrangement === undefined || suspected === ''}>
          Report incident
        </button>
      </div>
      {message !== null && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} className={message.kind}>
          {message.text}
        </p>
      )}
    </form>
  );
}
