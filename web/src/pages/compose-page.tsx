import { type FormEvent, useEffect, useState } from 'react';
import { api, messageOf, type ProductView } from '../api.js';
import { highestOf, Marking, useOnScreen } from '../classification.js';
import { choiceOf, type LabelChoice, LabelPicker, markingOf } from '../label-picker.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../session.js';
import { useApi } from '../use-api.js';
import { DISCIPLINES } from './feed-page.js';
import { CREDIBILITY_MEANING, RELIABILITY_MEANING } from './product-page.js';

interface PortionDraft {
  readonly key: number;
  readonly id: string;
  readonly choice: LabelChoice;
  readonly text: string;
}

/** One recipient under one arrangement, as GET /products/:id/release-preview answers. */
export interface ReleasePreview {
  readonly arrangement: {
    readonly id: string;
    readonly version: number;
    readonly title: string;
    readonly status: string;
  };
  readonly recipient: string;
  readonly effect: 'allow' | 'deny';
  readonly deniedBy: readonly string[];
  readonly rules: readonly { readonly rule: string; readonly outcome: string; readonly reason: string }[];
  readonly released: readonly string[];
  readonly withheld: readonly {
    readonly portionId: string;
    readonly reasons: readonly { readonly rule: string; readonly reason: string }[];
  }[];
  readonly banner: string | null;
}

const EMPTY: LabelChoice = { level: 'U', caveats: [], relTo: [], controls: [] };
let nextKey = 1;

/** For each partner and arrangement: which portions would go, and the rule holding back the others. */
export function PreviewTable({ previews }: { readonly previews: readonly ReleasePreview[] }) {
  return (
    <table className="preview" data-testid="release-preview">
      <caption>Release preview: what each partner would be given</caption>
      <thead>
        <tr>
          <th scope="col">Partner</th>
          <th scope="col">Arrangement</th>
          <th scope="col">Would go</th>
          <th scope="col">Held back, and why</th>
          <th scope="col">Decision</th>
        </tr>
      </thead>
      <tbody>
        {previews.map((p) => {
          const failed = p.rules.filter((r) => r.outcome === 'fail');
          return (
            <tr
              key={`${p.arrangement.id}:${p.recipient}`}
              data-testid="preview-row"
              data-recipient={p.recipient}
              data-arrangement={p.arrangement.id}
            >
              <th scope="row">{p.recipient}</th>
              <td>
                {p.arrangement.title}
                <div className="muted">
                  {p.arrangement.id} v{p.arrangement.version} ({p.arrangement.status})
                </div>
              </td>
              <td data-testid="preview-released">
                {p.released.length === 0 ? 'nothing' : p.released.join(', ')}
              </td>
              <td className="withheld" data-testid="preview-withheld">
                {p.withheld.length === 0 ? (
                  '—'
                ) : (
                  <ul>
                    {p.withheld.map((w) => (
                      <li key={w.portionId}>
                        {w.portionId}: {w.reasons.map((r) => `${r.rule} — ${r.reason}`).join('; ')}
                      </li>
                    ))}
                  </ul>
                )}
              </td>
              <td>
                {p.effect === 'allow' ? (
                  <span className="ok">allowed{p.banner === null ? '' : ` as ${p.banner}`}</span>
                ) : (
                  <span className="error">
                    denied: {failed.map((r) => `${r.rule} (${r.reason})`).join('; ')}
                  </span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function ComposePage({ id }: { readonly id?: string }) {
  const { user } = useSession();
  const originator = user?.nationality ?? 'USA';
  const existing = useApi<ProductView>(
    id === undefined ? null : `/api/v1/products/${encodeURIComponent(id)}`,
  );
  const [title, setTitle] = useState('');
  const [titleChoice, setTitleChoice] = useState<LabelChoice>(EMPTY);
  const [discipline, setDiscipline] = useState('SIGINT');
  const [categories, setCategories] = useState('counterterrorism');
  const [reliability, setReliability] = useState('B');
  const [credibility, setCredibility] = useState(2);
  const [lon, setLon] = useState('');
  const [lat, setLat] = useState('');
  const [portions, setPortions] = useState<readonly PortionDraft[]>([
    { key: nextKey++, id: 'p1', choice: EMPTY, text: '' },
  ]);
  const [savedId, setSavedId] = useState<string | null>(id ?? null);
  const [previews, setPreviews] = useState<readonly ReleasePreview[] | null>(null);
  const [message, setMessage] = useState<{ readonly kind: 'error' | 'ok'; readonly text: string } | null>(
    null,
  );
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const p = existing.data;
    if (p === undefined) return;
    setTitle(p.title);
    setTitleChoice(choiceOf(p.titleMarking));
    setDiscipline(p.discipline);
    setCategories(p.categories.join(', '));
    setReliability(p.reliability);
    setCredibility(p.credibility);
    const geo = p.geo as { type?: string; coordinates?: unknown } | null;
    if (geo?.type === 'Point' && Array.isArray(geo.coordinates)) {
      setLon(String(geo.coordinates[0]));
      setLat(String(geo.coordinates[1]));
    }
    setPortions(
      p.portions.map((x) => ({ key: nextKey++, id: x.id, choice: choiceOf(x.marking), text: x.text })),
    );
  }, [existing.data]);

  const titleMarking = markingOf(titleChoice, originator);
  const marks = portions.map((p) => markingOf(p.choice, originator));
  const onScreen = [titleMarking, ...marks].filter((m): m is string => m !== null);
  useOnScreen('compose', onScreen, originator);
  const banner = highestOf(onScreen, originator).text;

  const update = (key: number, change: Partial<PortionDraft>) =>
    setPortions((list) => list.map((p) => (p.key === key ? { ...p, ...change } : p)));

  // The draft as the API takes it, or why it cannot be sent yet.
  const longitude = Number(lon);
  const latitude = Number(lat);
  const hasPoint = lon.trim() !== '' && lat.trim() !== '';
  const categoryList = categories
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  let problem: string | null = null;
  if (titleMarking === null || marks.some((m) => m === null))
    problem = 'Every portion needs a valid marking.';
  else if (
    hasPoint &&
    (!Number.isFinite(longitude) ||
      !Number.isFinite(latitude) ||
      Math.abs(longitude) > 180 ||
      Math.abs(latitude) > 90)
  )
    problem = 'Longitude must be −180…180 and latitude −90…90.';
  const body = {
    title,
    titleMarking,
    discipline,
    categories: categoryList,
    reliability,
    credibility,
    portions: portions.map((p, i) => ({ id: p.id, marking: marks[i] ?? '', text: p.text })),
    ...(hasPoint ? { geo: { type: 'Point', coordinates: [longitude, latitude] } } : {}),
  };
  // Complete enough for the node to judge: the live preview waits for it rather than asking with a
  // draft the node would refuse.
  const complete =
    problem === null &&
    title.trim() !== '' &&
    categoryList.length > 0 &&
    categoryList.every((c) => /^[a-z][a-z0-9-]{1,63}$/.test(c)) &&
    portions.every((p) => p.text.trim() !== '');
  const draftKey = complete ? JSON.stringify(body) : null;

  // The live release preview: asked again 400 ms after the draft last changed; nothing is saved.
  const [previewError, setPreviewError] = useState<string | null>(null);
  useEffect(() => {
    if (draftKey === null) return;
    let current = true;
    const timer = setTimeout(() => {
      api<{ previews: ReleasePreview[] }>('POST', '/api/v1/products/release-preview', JSON.parse(draftKey))
        .then((answer) => {
          if (!current) return;
          setPreviews(answer.previews);
          setPreviewError(null);
        })
        .catch((e: unknown) => {
          if (current) setPreviewError(messageOf(e));
        });
    }, 400);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [draftKey]);

  const save = async (): Promise<string | null> => {
    if (problem !== null) {
      setMessage({ kind: 'error', text: problem });
      return null;
    }
    const saved =
      savedId === null
        ? await api<ProductView>('POST', '/api/v1/products', body)
        : await api<ProductView>('PUT', `/api/v1/products/${encodeURIComponent(savedId)}`, body);
    setSavedId(saved.id);
    return saved.id;
  };

  const run = async (what: 'save' | 'submit', event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      const productId = await save();
      if (productId === null) return;
      if (what === 'save') {
        setMessage({ kind: 'ok', text: `Saved ${productId}.` });
      } else {
        await api('POST', `/api/v1/products/${encodeURIComponent(productId)}/submit`);
        navigate(`/products/${encodeURIComponent(productId)}`);
      }
    } catch (e) {
      setMessage({ kind: 'error', text: messageOf(e) });
    } finally {
      setBusy(false);
    }
  };

  if (existing.error !== null)
    return (
      <p role="alert" className="error">
        {existing.error}
      </p>
    );

  return (
    <form aria-labelledby="compose-title" onSubmit={(e) => void run('save', e)}>
      <h1 id="compose-title">{id === undefined ? 'Compose a product' : `Edit ${id}`}</h1>
      <p>
        Banner of this product as written: <Marking value={banner} />
      </p>
      <div className="form-grid">
        <label htmlFor="c-title">Title</label>
        <input
          id="c-title"
          required
          maxLength={500}
          value={title}
          onChange={(e) => setTitle(e.target.value)}
        />
        <label htmlFor="c-discipline">Discipline</label>
        <select id="c-discipline" value={discipline} onChange={(e) => setDiscipline(e.target.value)}>
          {DISCIPLINES.map((d) => (
            <option key={d}>{d}</option>
          ))}
        </select>
        <label htmlFor="c-categories">Categories (comma-separated)</label>
        <input
          id="c-categories"
          required
          value={categories}
          onChange={(e) => setCategories(e.target.value)}
        />
        <label htmlFor="c-reliability">Source reliability</label>
        <select id="c-reliability" value={reliability} onChange={(e) => setReliability(e.target.value)}>
          {Object.entries(RELIABILITY_MEANING).map(([k, v]) => (
            <option key={k} value={k}>
              {k} — {v}
            </option>
          ))}
        </select>
        <label htmlFor="c-credibility">Information credibility</label>
        <select
          id="c-credibility"
          value={credibility}
          onChange={(e) => setCredibility(Number(e.target.value))}
        >
          {Object.entries(CREDIBILITY_MEANING).map(([k, v]) => (
            <option key={k} value={k}>
              {k} — {v}
            </option>
          ))}
        </select>
        <label htmlFor="c-lon">Footprint longitude</label>
        <input id="c-lon" inputMode="decimal" value={lon} onChange={(e) => setLon(e.target.value)} />
        <label htmlFor="c-lat">Footprint latitude</label>
        <input id="c-lat" inputMode="decimal" value={lat} onChange={(e) => setLat(e.target.value)} />
      </div>
      <LabelPicker
        legend="Title marking"
        value={titleChoice}
        onChange={setTitleChoice}
        originator={originator}
      />
      <h2>Portions</h2>
      {portions.map((p, i) => (
        <section
          key={p.key}
          className="portion-editor"
          aria-label={`Portion ${p.id}`}
          data-testid="portion-editor"
        >
          <h3>
            Portion {p.id}{' '}
            {marks[i] === null ? (
              <span className="error">invalid marking</span>
            ) : (
              <Marking value={marks[i]!} />
            )}
          </h3>
          <LabelPicker
            legend={`Marking of portion ${p.id}`}
            value={p.choice}
            onChange={(choice) => update(p.key, { choice })}
            originator={originator}
          />
          <label htmlFor={`portion-text-${p.key}`}>Text of portion {p.id}</label>
          <textarea
            id={`portion-text-${p.key}`}
            required
            value={p.text}
            onChange={(e) => update(p.key, { text: e.target.value })}
          />
          {portions.length > 1 && (
            <button
              type="button"
              className="secondary"
              onClick={() => setPortions((list) => list.filter((x) => x.key !== p.key))}
            >
              Remove portion {p.id}
            </button>
          )}
        </section>
      ))}
      <div className="actions">
        <button
          type="button"
          className="secondary"
          onClick={() =>
            setPortions((list) => {
              const used = new Set(list.map((x) => x.id));
              let n = list.length + 1;
              while (used.has(`p${n}`)) n++;
              return [...list, { key: nextKey++, id: `p${n}`, choice: EMPTY, text: '' }];
            })
          }
        >
          Add portion
        </button>
        <button type="submit" disabled={busy}>
          Save draft
        </button>
        <button type="button" disabled={busy} onClick={() => void run('submit')}>
          Save and submit for approval
        </button>
        {savedId !== null && <Link to={`/products/${encodeURIComponent(savedId)}`}>Open {savedId}</Link>}
      </div>
      {message !== null && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} className={message.kind}>
          {message.text}
        </p>
      )}
      <section aria-labelledby="preview-title">
        <h2 id="preview-title">Release preview</h2>
        <p className="visually-hidden" aria-live="polite">
          {previews === null
            ? ''
            : `Release preview updated: ${previews.length} partner and arrangement pairs.`}
        </p>
        {previewError !== null && <p className="error">{previewError}</p>}
        {previews === null ? (
          <p>Shown here as soon as the draft has a title, categories and text in every portion.</p>
        ) : (
          <PreviewTable previews={previews} />
        )}
      </section>
    </form>
  );
}
