import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { api, setCsrfToken, type User } from './api.js';

interface SessionState {
  readonly user: User | null;
  readonly loading: boolean;
  readonly login: (username: string, password: string) => Promise<void>;
  readonly logout: () => Promise<void>;
}

const SessionContext = createContext<SessionState>({
  user: null,
  loading: true,
  login: async () => undefined,
  logout: async () => undefined,
});

/** The signed-in user. The session cookie is HttpOnly; the CSRF token lives in this tab. */
export function SessionProvider({ children }: { readonly children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    // Only a tab that signed in asks who it is: an anonymous visit makes no failing request.
    if (sessionStorage.getItem('accord.csrf') === null) {
      setLoading(false);
      return;
    }
    api<User>('GET', '/api/v1/auth/me')
      .then(setUser)
      .catch(() => setCsrfToken(null))
      .finally(() => setLoading(false));
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const session = await api<{ user: User; csrfToken: string }>('POST', '/api/v1/auth/login', {
      username,
      password,
    });
    setCsrfToken(session.csrfToken);
    setUser(session.user);
  }, []);

  const logout = useCallback(async () => {
    try {
      await api<void>('POST', '/api/v1/auth/logout');
    } finally {
      setCsrfToken(null);
      setUser(null);
    }
  }, []);

  const value = useMemo(() => ({ user, loading, login, logout }), [user, loading, login, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  return useContext(SessionContext);
}
