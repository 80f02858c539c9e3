// The node's HTTP API as the console uses it: same origin, session cookie, CSRF header on writes.

/** An RFC 9457 problem the node answered with. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: Readonly<Record<string, unknown>>;

  constructor(status: number, body: Readonly<Record<string, unknown>>) {
    const detail = typeof body.detail === 'string' ? body.detail : `request failed (${status})`;
    super(detail);
    this.name = 'ApiProblem';
    this.status = status;
    this.code = typeof body.code === 'string' ? body.code : 'UNKNOWN';
    this.body = body;
  }
}

export interface User {
  readonly username: string;
  readonly displayName: string;
  readonly nationality: string;
  readonly clearance: string;
  readonly caveats: readonly string[];
  readonly roles: readonly string[];
}

export interface Portion {
  readonly id: string;
  readonly marking: string;
  readonly text: string;
}

export interface SignatureCheck {
  readonly by: string;
  readonly verified: boolean;
  readonly code: string | null;
  readonly reason: string | null;
}

export interface Provenance {
  readonly originator: string;
  readonly sender: string;
  readonly arrangement: { readonly id: string; readonly version: number };
  readonly envelopeId: string;
  readonly receivedAt: string;
  readonly withheldAtRelease: number;
  readonly signature: SignatureCheck;
  readonly derivedFrom?: { readonly id: string; readonly version: number; readonly digest?: string };
}

/** A product as this reader may see it: own (with workflow state) or received (with provenance). */
export interface ProductView {
  readonly id: string;
  readonly version: number;
  readonly state?: string;
  readonly author?: string;
  readonly originator: string;
  readonly banner: string;
  readonly title: string;
  readonly titleMarking: string;
  readonly titleWithheld: boolean;
  readonly discipline: string;
  readonly categories: readonly string[];
  readonly portions: readonly Portion[];
  readonly withheldCount: number;
  readonly reliability: string;
  readonly credibility: number;
  readonly createdAt: string;
  readonly geo: Readonly<Record<string, unknown>> | null;
  readonly provenance?: Provenance;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly total: number;
}

let csrfToken: string | null = sessionStorage.getItem('accord.csrf');

/** Remembers the CSRF token the login returned (per tab; the session cookie is HttpOnly). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
  if (token === null) sessionStorage.removeItem('accord.csrf');
  else sessionStorage.setItem('accord.csrf', token);
}

/** Calls the API; resolves to the JSON body, or rejects with the problem it answered. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const parsed: unknown = text === '' ? {} : JSON.parse(text);
  if (!response.ok) {
    throw new ApiProblem(response.status, (parsed ?? {}) as Record<string, unknown>);
  }
  return parsed as T;
}

/** A message a person can read from whatever a call threw. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiProblem) return `${error.message} (${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Whether the user holds a role. */
export function hasRole(user: User | null, role: string): boolean {
  return user?.roles.includes(role) ?? false;
}
