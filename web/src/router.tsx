import { type MouseEvent, type ReactNode, useEffect, useState } from 'react';

// A small history router: the node answers every non-API path with index.html, so the browser's
// path is the page. No library needed for a dozen flat routes.

type Listener = () => void;
const listeners = new Set<Listener>();

/** Goes to a path inside the console. */
export function navigate(path: string): void {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

/** The current path and query; re-renders on navigation and on Back/Forward. */
export function useLocation(): { readonly path: string; readonly query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    window.addEventListener('popstate', listener);
    return () => {
      listeners.delete(listener);
      window.removeEventListener('popstate', listener);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** An ordinary link (keyboard, middle-click, copy) that navigates without reloading. */
export function Link({
  to,
  children,
  className,
  current,
}: {
  readonly to: string;
  readonly children: ReactNode;
  readonly className?: string;
  readonly current?: boolean;
}) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className} aria-current={current === true ? 'page' : undefined}>
      {children}
    </a>
  );
}

/** Matches `/products/:id` style patterns; returns the parameters or null. */
export function match(pattern: string, path: string): Readonly<Record<string, string>> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const actual = got[i] ?? '';
    if (part.startsWith(':')) {
      if (actual === '') return null;
      params[part.slice(1)] = decodeURIComponent(actual);
    } else if (part !== actual) return null;
  }
  return params;
}
