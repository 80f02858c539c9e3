import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { decoyHash, verifyPassword } from '../auth/passwords.js';
import { AccordError } from '../errors/index.js';
import type { ApiToken, Store, User } from '../store/index.js';
import type { Actor } from './actor.js';
import { loginEvent, loginFailedEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';

export interface AuthSettings {
  readonly sessionTtlMinutes: number;
  readonly maxFailedLogins: number;
  readonly failedLoginWindowMinutes: number;
}

/** A new browser session: the cookie value and the token the client echoes in X-CSRF-Token. */
export interface NewSession {
  readonly sessionId: string;
  readonly csrfToken: string;
  readonly expiresAt: string;
  readonly user: User;
}

const TOKEN_PREFIX = 'acc_';
const TOUCH_INTERVAL_MS = 60_000;

function secret(): string {
  return randomBytes(32).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** Logins with throttling, sessions for browsers, bearer tokens for scripts. */
export class AuthService {
  readonly #store: Store;
  readonly #settings: AuthSettings;
  readonly #now: () => number;
  readonly #audit: AuditRecorder | undefined;

  constructor(deps: {
    readonly store: Store;
    readonly settings: AuthSettings;
    readonly now: () => number;
    /** Logs each sign-in and each refused password (not throttled attempts, which change nothing). */
    readonly audit?: AuditRecorder;
  }) {
    this.#store = deps.store;
    this.#settings = deps.settings;
    this.#now = deps.now;
    this.#audit = deps.audit;
  }

  /**
   * Checks a password and opens a session. Refuses (AUTH_THROTTLED) once a username or an address
   * has too many recent failures; unknown users and wrong passwords give the same AUTH_INVALID.
   */
  async login(username: string, password: string, ip: string): Promise<NewSession> {
    const user = await this.#checkPassword(username, password, ip, 'session');
    const sessionId = secret();
    const csrfToken = secret();
    const expiresAt = new Date(this.#now() + this.#settings.sessionTtlMinutes * 60_000).toISOString();
    await this.#store.sessions.create({ sessionId, userId: user.id, csrfToken, expiresAt });
    return { sessionId, csrfToken, expiresAt, user };
  }

  /**
   * HTTP Basic (RFC 7617) for clients that cannot hold a session, such as TAXII clients: the same
   * password check and throttling as `login`, but no session is opened and only failures are
   * recorded (each request carries the password again).
   */
  async fromBasic(username: string, password: string, ip: string): Promise<Actor> {
    return { user: await this.#checkPassword(username, password, ip, 'basic'), via: 'basic' };
  }

  async #checkPassword(
    username: string,
    password: string,
    ip: string,
    via: 'session' | 'basic',
  ): Promise<User> {
    const since = new Date(this.#now() - this.#settings.failedLoginWindowMinutes * 60_000).toISOString();
    const max = this.#settings.maxFailedLogins;
    const [byUser, byIp] = await Promise.all([
      this.#store.loginAttempts.countRecentFailures({ username }, since),
      this.#store.loginAttempts.countRecentFailures({ ip }, since),
    ]);
    if (byUser >= max || byIp >= max * 4) {
      throw new AccordError(
        'AUTH_THROTTLED',
        `too many failed logins; try again in ${this.#settings.failedLoginWindowMinutes} minutes`,
        { retryAfterSeconds: this.#settings.failedLoginWindowMinutes * 60 },
      );
    }
    const user = await this.#store.users.getByUsername(username);
    const ok =
      user !== undefined && user.passwordHash !== null && !user.disabled
        ? await verifyPassword(user.passwordHash, password)
        : (await verifyPassword(await decoyHash(), password)) && false;
    if (via === 'session' || !ok) {
      await this.#store.transaction(async (tx) => {
        await tx.loginAttempts.record({ username, ip, ok });
        await this.#audit?.recordIn(
          tx,
          ok && user !== undefined
            ? loginEvent({ user, via: 'session' }, ip)
            : loginFailedEvent(username, ip, 'AUTH_INVALID'),
        );
      });
    }
    if (!ok || user === undefined) throw new AccordError('AUTH_INVALID', 'wrong username or password', {});
    return user;
  }

  async logout(sessionId: string): Promise<void> {
    await this.#store.sessions.delete(sessionId);
  }

  /**
   * The actor behind a session cookie. Unsafe methods must carry the session's CSRF token
   * (double-submit); a missing or wrong one is AUTH_CSRF.
   */
  async fromSession(sessionId: string, unsafe: boolean, csrfHeader: string | undefined): Promise<Actor> {
    const session = await this.#store.sessions.get(sessionId);
    if (session === undefined)
      throw new AccordError('AUTH_REQUIRED', 'session expired or unknown; sign in again', {});
    if (unsafe && (csrfHeader === undefined || !sameSecret(csrfHeader, session.csrfToken))) {
      throw new AccordError('AUTH_CSRF', 'missing or wrong X-CSRF-Token header for this session', {});
    }
    return { user: await this.#activeUser(session.userId), via: 'session' };
  }

  async fromToken(token: string): Promise<Actor> {
    const stored = await this.#store.tokens.getByToken(token);
    if (stored === undefined) throw new AccordError('AUTH_INVALID', 'unknown or revoked API token', {});
    // Stamping last use is a write and a commit; once a minute is precise enough to audit by.
    const lastUsed = stored.lastUsedAt === null ? Number.NEGATIVE_INFINITY : Date.parse(stored.lastUsedAt);
    if (this.#now() - lastUsed >= TOUCH_INTERVAL_MS) await this.#store.tokens.touch(stored.tokenSha256);
    return { user: await this.#activeUser(stored.userId), via: 'token' };
  }

  async #activeUser(id: string): Promise<User> {
    const user = await this.#store.users.getById(id);
    if (user === undefined || user.disabled)
      throw new AccordError('AUTH_INVALID', 'the account is disabled or gone', {});
    return user;
  }

  /** Issues a bearer token for the user; the token is returned once and only its hash is kept. */
  async issueToken(
    userId: string,
    label: string,
  ): Promise<{ readonly token: string; readonly record: ApiToken }> {
    const token = `${TOKEN_PREFIX}${secret()}`;
    const record = await this.#store.tokens.create({ token, userId, label });
    return { token, record };
  }
}
