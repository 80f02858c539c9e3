import { type ReactNode, useEffect, useRef } from 'react';
import { hasRole, type User } from './api.js';
import { ClassificationBanner } from './classification.js';
import { ArrangementPage, ArrangementsPage } from './pages/arrangements-page.js';
import { ComposePage } from './pages/compose-page.js';
import { FeedPage } from './pages/feed-page.js';
import { IncidentPage } from './pages/incident-page.js';
import { LoginPage } from './pages/login-page.js';
import { MapPage } from './pages/map-page.js';
import { OversightPage } from './pages/oversight-page.js';
import { ProductPage } from './pages/product-page.js';
import { QueuePage } from './pages/queue-page.js';
import { Link, match, navigate, useLocation } from './router.js';
import { useSession } from './session.js';

interface NavItem {
  readonly to: string;
  readonly label: string;
  readonly allowed: (user: User) => boolean;
}

const readsProducts = (u: User) => hasRole(u, 'analyst') || hasRole(u, 'release-officer');

const NAV: readonly NavItem[] = [
  { to: '/', label: 'Feed', allowed: readsProducts },
  { to: '/compose', label: 'Compose', allowed: (u) => hasRole(u, 'analyst') },
  { to: '/queue', label: 'Release queue', allowed: (u) => hasRole(u, 'release-officer') },
  { to: '/map', label: 'Map', allowed: readsProducts },
  { to: '/arrangements', label: 'Arrangements', allowed: () => true },
  {
    to: '/oversight',
    label: 'Oversight',
    allowed: (u) => hasRole(u, 'oversight-auditor') || hasRole(u, 'administrator'),
  },
  { to: '/incidents/new', label: 'Report incident', allowed: () => true },
];

const PARAM_ROUTES: readonly {
  readonly pattern: string;
  readonly title: string;
  readonly page: (params: Readonly<Record<string, string>>) => ReactNode;
}[] = [
  { pattern: '/products/:id', title: 'Product', page: (p) => <ProductPage source="own" id={p.id!} /> },
  {
    pattern: '/received/:id',
    title: 'Received product',
    page: (p) => <ProductPage source="received" id={p.id!} />,
  },
  { pattern: '/compose/:id', title: 'Edit', page: (p) => <ComposePage id={p.id!} /> },
  { pattern: '/arrangements/:id', title: 'Arrangement', page: (p) => <ArrangementPage id={p.id!} /> },
];

function routeOf(path: string, user: User): { readonly title: string; readonly page: ReactNode } {
  if (path === '/' || path === '/feed') {
    return readsProducts(user)
      ? { title: 'Feed', page: <FeedPage /> }
      : { title: 'Arrangements', page: <ArrangementsPage /> };
  }
  for (const route of PARAM_ROUTES) {
    const params = match(route.pattern, path);
    if (params !== null) return { title: route.title, page: route.page(params) };
  }
  if (path === '/compose') return { title: 'Compose', page: <ComposePage /> };
  if (path === '/queue') return { title: 'Release queue', page: <QueuePage /> };
  if (path === '/arrangements') return { title: 'Arrangements', page: <ArrangementsPage /> };
  if (path === '/map') return { title: 'Map', page: <MapPage /> };
  if (path === '/oversight') return { title: 'Oversight', page: <OversightPage /> };
  if (path === '/incidents/new') return { title: 'Report an incident', page: <IncidentPage /> };
  return { title: 'Not found', page: <p role="alert">There is no page at {path}.</p> };
}

export function App() {
  const { user, loading, logout } = useSession();
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);

  const route = user === null ? null : routeOf(path, user);
  useEffect(() => {
    document.title = `${route?.title ?? 'Sign in'} · Accord`;
    // Moving focus to the page's main region tells keyboard and screen-reader users the page changed.
    main.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [route?.title]);

  if (loading) return <p className="loading">Loading…</p>;

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <ClassificationBanner position="top" />
      {user !== null && (
        <header className="topbar">
          <span className="brand">Accord</span>
          <nav aria-label="Main">
            <ul>
              {NAV.filter((item) => item.allowed(user)).map((item) => (
                <li key={item.to}>
                  <Link to={item.to} current={path === item.to}>
                    {item.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <span className="who">
            {user.username} · {user.nationality} · {user.clearance}
          </span>
          <button
            type="button"
            onClick={() => {
              void logout().then(() => navigate('/'));
            }}
          >
            Sign out
          </button>
        </header>
      )}
      <main id="main" ref={main} tabIndex={-1}>
        {user === null ? <LoginPage /> : route?.page}
      </main>
      <ClassificationBanner position="bottom" />
    </div>
  );
}
