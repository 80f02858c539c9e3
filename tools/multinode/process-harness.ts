import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { AccordNode } from '../../src/app/node.js';
import { loadNodeKeys, type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import type { ArrangementDocument } from '../../src/arrangements/index.js';
import { actorFor, withLocalNode } from '../../src/cli/local-node.js';
import { runCli } from '../../src/cli/run-cli.js';
import type { PublicIdentity } from '../../src/crypto/index.js';
import { signArrangementAs, withPinnedKeys } from '../../src/federation/index.js';
import type { DraftInput } from '../../src/services/product-service.js';
import { type Store, sqliteFileIn } from '../../src/store/index.js';
import { createKyselyStore } from '../../src/store/kysely-store.js';
import type { Database } from '../../src/store/schema.js';

// N Accord nodes as real OS processes on loopback, each `accord serve` over its own data directory
// (SQLite) and port, set up through the real CLI (`init`, `keys show`, `partner add`, `user add`,
// `arrangement add`) and driven over its HTTP API. What DESIGN.md §2.5 promises across crashes
// can only be shown here: a SIGKILL leaves no finally block or shutdown hook to tidy up. The
// multinode tests and `npm run chaos` share it, so it lives outside test/.

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(REPO_ROOT, 'bin', 'accord.js');
const PASSPHRASE = 'multinode harness passphrase, not a secret';
const USER_PASSWORD = 'multinode harness user password';
/** Where the user password travels to `accord user add --password-env` (not an ACCORD_* name). */
const PASSWORD_ENV = 'HARNESS_USER_PASSWORD';
/** Lines of each node's output kept for a failure report. */
const LOG_LINES = 3000;
/** What `accord serve` prints once its server listens. */
const LISTENING = / node listening on (http:\/\/\S+)/;

const SECOND = 1000;
/**
 * Start-up is tsx compiling the CLI (1–2 s alone) and unlocking the keys: 13 s measured for one
 * node on a 2-core box at load 20, and five start at once; generous, since only a failure waits it out.
 */
const START_TIMEOUT_MS = 120 * SECOND;
const STOP_TIMEOUT_MS = 15 * SECOND;

// ---------------------------------------------------------------- waiting

/**
 * Polls `probe` until it returns something other than undefined, and returns that. On timeout
 * throws naming `what` and, when given, what `explain` says of the state at that moment.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: {
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    readonly explain?: () => Promise<string> | string;
  },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const state = options.explain === undefined ? '' : `: ${await options.explain()}`;
      throw new Error(`timed out after ${options.timeoutMs / SECOND} s waiting for ${what}${state}`);
    }
    await sleep(options.intervalMs ?? 25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

// ---------------------------------------------------------------- processes

/**
 * A port on 127.0.0.1 free now, from below the kernel's ephemeral range (32768–60999 on Linux):
 * a node keeps its port across restarts, and while it is down a port from that range could be
 * handed to any other socket on the machine (listen(0), or an outgoing connection's own port).
 */
async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries += 1) {
    // 20000–32767: clear of the demo's 7401–7405 and of the ephemeral range.
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await canListen(port)) return port;
  }
  throw new Error('harness: no free port found in 20000–32767');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/**
 * The environment of every child: only what Node needs plus the harness's own variables. The
 * test runner's environment stays out: an unknown ACCORD_* variable is a config error, and
 * NODE_OPTIONS from the runner would change how the child runs.
 */
function childEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) kept[name] = value;
  }
  return { ...kept, ACCORD_KEY_PASSPHRASE: PASSPHRASE, [PASSWORD_ENV]: USER_PASSWORD, ...extra };
}

interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `accord …args` in this process, through the CLI's own entry point (runCli: the commands and
 * parsing `bin/accord.js` runs), with the node's environment; throws with its output unless it
 * exits 0. Not a child process: tsx compiling the CLI costs 3 s a command, and setting up five
 * nodes takes some fifty commands. Only `accord serve` must be a process, to be killed.
 */
async function runAccord(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env,
    cwd: REPO_ROOT,
  });
  if (code !== 0) {
    throw new Error(
      `harness: accord ${args.join(' ')} exited ${code}\n--- stdout\n${stdout}--- stderr\n${stderr}`,
    );
  }
  return { stdout, stderr };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

/** One partner's node: its data directory and port, kept across restarts, and its serving process. */
export class NodeProcess {
  readonly partner: string;
  readonly dir: string;
  readonly port: number;
  /** The base URL partners deliver to and the tests call. */
  readonly url: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #startTimeoutMs: number;
  readonly #log: string[] = [];
  #child: ChildProcess | undefined;
  #generation = 0;
  /** The node's unlocked keys, as the test process loaded them from keys.json. */
  keys: NodeKeys | undefined;

  constructor(
    partner: string,
    dir: string,
    port: number,
    env: NodeJS.ProcessEnv,
    options: { readonly startTimeoutMs?: number } = {},
  ) {
    this.partner = partner;
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#env = env;
    this.#startTimeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  }

  /**
   * Runs `work` over this node opened in this process as a CLI command opens it (store, services,
   * a server that does not listen), with the node's environment; while it does not serve.
   */
  open<T>(work: (node: AccordNode) => Promise<T>): Promise<T> {
    const io = {
      stdout: { write: () => true },
      stderr: { write: () => true },
      env: this.#env,
      cwd: REPO_ROOT,
    };
    return withLocalNode(io, this.dir, work);
  }

  /** The process id of the serving process while it runs (for /proc/<pid>/status). */
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  /** Whether a serving process of this node is alive (it may be paused). */
  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /**
   * Runs one CLI command, in-process, against this node's data directory (`--dir` is added unless
   * `withDir` is false, for a command that names the directory itself, as `audit verify <dir>` does).
   */
  cli(args: readonly string[], options: { readonly withDir?: boolean } = {}): Promise<CliResult> {
    return runAccord(options.withDir === false ? args : [...args, '--dir', this.dir], this.#env);
  }

  /** Starts `accord serve` and resolves once it listens; throws with its output if it dies first. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`harness: ${this.partner} is already running`);
    this.#generation += 1;
    const tag = `[${this.partner}#${this.#generation}]`;
    this.#note(`${tag} starting: accord serve --dir ${this.dir} --port ${this.port}`);
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--dir', this.dir, '--host', '127.0.0.1', '--port', String(this.port)],
      { cwd: REPO_ROOT, env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    let listening = false;
    const ready = new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(`harness: ${this.partner} did not listen within ${this.#startTimeoutMs / SECOND} s`),
          ),
        this.#startTimeoutMs,
      );
      const onLine = (line: string) => {
        if (!listening && LISTENING.test(line)) {
          listening = true;
          clearTimeout(timer);
          done();
        }
      };
      for (const [stream, name] of [
        [child.stdout, 'out'],
        [child.stderr, 'err'],
      ] as const) {
        let partial = '';
        stream?.setEncoding('utf8').on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) {
            this.#note(`${tag} ${name} ${line}`);
            onLine(line);
          }
        });
      }
      child.once('error', (error) => {
        clearTimeout(timer);
        fail(error);
      });
      child.once('exit', (code, signal) => {
        this.#note(`${tag} exited ${code ?? signal}`);
        if (!listening) {
          clearTimeout(timer);
          fail(new Error(`harness: ${this.partner} exited ${code ?? signal} before it listened`));
        }
      });
    });
    try {
      await ready;
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}\n${this.output(80)}`, { cause: error });
    }
  }

  /** SIGTERM, as an operator stops a node, and waits for it to exit (SIGKILL and throw if it hangs). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited(child);
    clearTimeout(timer);
    if (child.signalCode === 'SIGKILL') {
      throw new Error(
        `harness: ${this.partner} did not stop within ${STOP_TIMEOUT_MS / SECOND} s of SIGTERM`,
      );
    }
    // `accord serve` stops cleanly on SIGTERM: outbox worker, server, store, then exit 0.
    if (child.exitCode !== 0) {
      throw new Error(`harness: ${this.partner} exited ${child.exitCode ?? child.signalCode} on SIGTERM`);
    }
  }

  /** SIGKILL: the process dies at whatever instruction it was on. Resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    this.#note(`[${this.partner}#${this.#generation}] SIGKILL`);
    child.kill('SIGKILL');
    await exited(child);
  }

  /** SIGSTOP: the process hangs (its sockets stay open, nothing answers) until resume(). */
  pause(): void {
    if (!this.running) throw new Error(`harness: ${this.partner} is not running`);
    this.#note(`[${this.partner}#${this.#generation}] SIGSTOP`);
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    if (!this.running) return;
    this.#note(`[${this.partner}#${this.#generation}] SIGCONT`);
    this.#child?.kill('SIGCONT');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The last `lines` lines this node's processes printed, oldest first. */
  output(lines = LOG_LINES): string {
    return this.#log.slice(-lines).join('\n');
  }

  /** Kills the process at once, synchronously (for the exit hook and close). */
  killNow(): void {
    if (this.running) this.#child?.kill('SIGKILL');
  }

  #note(line: string): void {
    this.#log.push(line);
    if (this.#log.length > LOG_LINES) this.#log.splice(0, this.#log.length - LOG_LINES);
  }

  /**
   * Whether a connection to this node holds bytes it has not read (Linux: /proc/net/tcp), as when
   * a peer's request waits on a paused node. Undefined where the kernel does not say.
   */
  hasUnreadRequest(): boolean | undefined {
    const table = '/proc/net/tcp';
    if (!existsSync(table)) return undefined;
    const port = this.port.toString(16).toUpperCase().padStart(4, '0');
    return readFileSync(table, 'utf8')
      .split('\n')
      .slice(1)
      .some((line) => {
        // sl local_address rem_address st tx_queue:rx_queue …; 01 is ESTABLISHED.
        const [, local, , state, queues] = line.trim().split(/\s+/);
        const unread = Number.parseInt(queues?.split(':')[1] ?? '0', 16);
        return local?.endsWith(`:${port}`) === true && state === '01' && unread > 0;
      });
  }

  /** Counts rows straight from the SQLite file, read-only, while the node may be writing it (WAL). */
  countRows(sql: string): number {
    const [row] = this.query(sql);
    return Number(Object.values(row ?? {})[0] ?? 0);
  }

  /** Runs one SELECT straight over the SQLite file, read-only, while the node may be writing it (WAL). */
  query(sql: string): Record<string, unknown>[] {
    const db = new BetterSqlite3(sqliteFileIn(this.dir), { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      return db.prepare(sql).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }

  /**
   * `accord audit verify <dataDir> --json`: the node's whole log recomputed and checked against
   * every head it signed, under the key in its keys.json. Throws with the CLI's output if it fails.
   */
  async verifyAudit(): Promise<{ readonly treeSize: number; readonly entryCount: number }> {
    const { stdout } = await runAccord(['audit', 'verify', this.dir, '--json'], this.#env);
    return JSON.parse(stdout) as { treeSize: number; entryCount: number };
  }

  /**
   * Runs `work` over the node's store opened read-only (the same repositories the node uses, no
   * migration, no writes), while the node runs or not.
   */
  async readStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
    const sqlite = new BetterSqlite3(sqliteFileIn(this.dir), { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    const store = createKyselyStore(db, { dialect: 'sqlite', now: () => new Date(), maxAttachmentBytes: 1 });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }
}

// ---------------------------------------------------------------- the API

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

/** A signed-in user of one node, calling its HTTP API with a bearer token. */
export class ApiUser {
  readonly #node: NodeProcess;
  readonly #token: string;

  constructor(node: NodeProcess, token: string) {
    this.#node = node;
    this.#token = token;
  }

  /** The bearer token, for a client this class does not wrap (a live stream). */
  get token(): string {
    return this.#token;
  }

  async request(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const response = await fetch(`${this.#node.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30 * SECOND),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  /** The request's JSON body; throws naming the call when the status is not `expected`. */
  async expect(
    expected: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> {
    const response = await this.request(method, path, body);
    if (response.status !== expected) {
      throw new Error(
        `harness: ${this.#node.partner} ${method} ${path} answered ${response.status}, not ${expected}: ${JSON.stringify(response.body)}`,
      );
    }
    return response.body as Record<string, unknown>;
  }
}

/** Signs in with the password and issues a bearer token (POST /api/v1/auth/tokens). */
async function signIn(node: NodeProcess, username: string): Promise<ApiUser> {
  const login = await fetch(`${node.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: USER_PASSWORD }),
  });
  const session = /accord_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
  const body = (await login.json()) as { csrfToken?: unknown };
  if (login.status !== 200 || session === undefined || typeof body.csrfToken !== 'string') {
    throw new Error(`harness: login of ${username} at ${node.partner} answered ${login.status}`);
  }
  const issued = await fetch(`${node.url}/api/v1/auth/tokens`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      cookie: `accord_session=${session}`,
      'x-csrf-token': body.csrfToken,
    },
    body: JSON.stringify({ label: 'multinode harness' }),
  });
  const token = ((await issued.json()) as { token?: unknown }).token;
  if (issued.status !== 201 || typeof token !== 'string') {
    throw new Error(`harness: token for ${username} at ${node.partner} answered ${issued.status}`);
  }
  return new ApiUser(node, token);
}

/** What a release over the API answered (POST /api/v1/products/:id/releases). */
export interface ReleaseAnswer {
  readonly productId: string;
  readonly releaseId: string;
  readonly effect: string;
  readonly banner: string;
  readonly withheld: readonly { readonly portionId: string }[];
  readonly rules: readonly { readonly rule: string; readonly outcome: string }[];
}

/** A node's analyst and release officer, signed in: the release workflow over HTTP. */
export class Workflow {
  readonly analyst: ApiUser;
  readonly officer: ApiUser;

  constructor(analyst: ApiUser, officer: ApiUser) {
    this.analyst = analyst;
    this.officer = officer;
  }

  /** Writes, submits and approves a product; returns its id. */
  async approved(draft: DraftInput): Promise<string> {
    const created = await this.analyst.expect(201, 'POST', '/api/v1/products', draft);
    const id = String(created.id);
    await this.analyst.expect(200, 'POST', `/api/v1/products/${id}/submit`);
    await this.officer.expect(200, 'POST', `/api/v1/products/${id}/approve`, {});
    return id;
  }

  /** Releases an approved product to `to` under `arrangement`. */
  async release(productId: string, to: string, arrangement: string): Promise<ReleaseAnswer> {
    const body = await this.officer.expect(201, 'POST', `/api/v1/products/${productId}/releases`, {
      to,
      arrangement,
    });
    return { productId, ...(body as Omit<ReleaseAnswer, 'productId'>) };
  }
}

/** Runs `work` over `items` with at most `limit` in flight, keeping the order of results. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

// ---------------------------------------------------------------- the cluster

export interface ClusterOptions {
  /** One node per partner code, e.g. ['USA', 'GBR']. */
  readonly partners: readonly string[];
  /**
   * The arrangements every node party to them holds: each party's keys are pinned to its node's
   * real keys, and every party's node signs it. Their parties must be among `partners`.
   */
  readonly arrangements: readonly ArrangementDocument[];
  /** ACCORD_* configuration for every command and server (e.g. short outbox timings). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The endpoint the other nodes record for `node` (default its own URL): a proxy in front of it,
   * say, so that what travels between nodes passes through something the caller controls.
   */
  readonly endpointFor?: (node: NodeProcess) => Promise<string> | string;
  /**
   * Sets the nodes up in this process: `init` and `keys show` through runCli, then partners, users
   * and arrangements through the services those commands call (see recordInProcess), each node
   * opened once instead of once per command.
   */
  readonly inProcessSetUp?: boolean;
  /** At most this many nodes start at once (default: all); each start is a few seconds of CPU. */
  readonly startConcurrency?: number;
  /** How long a node may take to listen (default 30 s); a machine shared with other work needs more. */
  readonly startTimeoutMs?: number;
}

export interface Cluster {
  readonly root: string;
  /** The arrangements as signed by every party and stored on each party's node. */
  readonly arrangements: readonly ArrangementDocument[];
  readonly nodes: readonly NodeProcess[];
  node(partner: string): NodeProcess;
  /** The node's analyst and release officer (sign in once it runs). */
  workflow(partner: string): Promise<Workflow>;
  /** Every node's recent output, for a failure report. */
  output(lines?: number): string;
  /** Kills every process (SIGKILL) and removes the data directories (kept when MULTINODE_KEEP is set). */
  close(): Promise<void>;
}

const clusters = new Set<Cluster>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A runner that exits without afterAll (a crash, a timeout) must not leave servers behind.
  process.once('exit', () => {
    for (const cluster of clusters) for (const node of cluster.nodes) node.killNow();
  });
}

/**
 * What `partner add`, `user add` and `arrangement add` record, through the same services, in one
 * opening of the node instead of one per command: each opening builds the node's server (about a
 * second on a busy 2-core machine), which for 32 nodes (some 700 partner records) is the
 * difference between minutes of set-up and most of an hour.
 */
async function recordInProcess(
  node: NodeProcess,
  peers: readonly NodeProcess[],
  arrangements: readonly ArrangementDocument[],
): Promise<void> {
  await node.open(async (local) => {
    for (const peer of peers) {
      const keys = peer.keys;
      if (keys === undefined) throw new Error(`harness: ${peer.partner} has no keys loaded`);
      await local.services.directory.upsertPartner(null, {
        code: peer.partner,
        name: peer.partner,
        endpoint: peer.url,
        keys: partnerKeysOf(keys.public),
      });
    }
    const lower = node.partner.toLowerCase();
    for (const [username, role] of [
      [`analyst.${lower}`, 'analyst'],
      [`officer.${lower}`, 'release-officer'],
    ] as const) {
      await local.services.directory.createUser(null, {
        username,
        displayName: username,
        nationality: node.partner,
        clearance: 'TOP SECRET',
        caveats: ['SI', 'TK'],
        communities: [],
        roles: [role],
        password: USER_PASSWORD,
      });
    }
    const admin = await actorFor(local, 'admin');
    for (const terms of arrangements) {
      if (terms.parties.some((p) => p.partner === node.partner))
        await local.services.arrangements.create(admin, terms);
    }
  });
}

/**
 * Creates one node per partner through the CLI (init, keys show, partner add for each other
 * node, user add for an analyst and a release officer, arrangement add), then starts them all.
 * Nodes are set up in parallel; each node's own commands run one after another.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  installExitHook();
  const root = mkdtempSync(join(tmpdir(), 'accord-multinode-'));
  const nodes = new Map<string, NodeProcess>();
  // In-process set-up shares one event loop: a few nodes at a time, or each command's server
  // (built to open the node) misses Fastify's plugin timeout.
  const setUpLanes = options.inProcessSetUp === true ? 2 : Number.POSITIVE_INFINITY;
  const each = <R>(work: (node: NodeProcess) => Promise<R>) =>
    inParallel([...nodes.values()], setUpLanes, work);
  const workflows = new Map<string, Workflow>();

  const output = (lines = 150) =>
    [...nodes.values()].map((n) => `===== ${n.partner} (${n.dir})\n${n.output(lines)}`).join('\n');

  let arrangements = options.arrangements;
  const cluster: Cluster = {
    root,
    get arrangements() {
      return arrangements;
    },
    get nodes() {
      return [...nodes.values()];
    },
    node(partner) {
      const node = nodes.get(partner);
      if (node === undefined) throw new Error(`harness: no node ${partner}`);
      return node;
    },
    async workflow(partner) {
      const known = workflows.get(partner);
      if (known !== undefined) return known;
      const node = cluster.node(partner);
      const lower = partner.toLowerCase();
      const flow = new Workflow(
        await signIn(node, `analyst.${lower}`),
        await signIn(node, `officer.${lower}`),
      );
      workflows.set(partner, flow);
      return flow;
    },
    output,
    async close() {
      clusters.delete(cluster);
      await Promise.all([...nodes.values()].map((n) => n.kill()));
      if (process.env.MULTINODE_KEEP === undefined) rmSync(root, { recursive: true, force: true });
    },
  };
  clusters.add(cluster);

  try {
    for (const partner of options.partners) {
      const port = await freePort();
      // ACCORD_PORT too, so that `init` records the node's own endpoint as it will really listen.
      const env = childEnv({ ...options.env, ACCORD_PORT: String(port) });
      nodes.set(
        partner,
        new NodeProcess(partner, join(root, partner.toLowerCase()), port, env, {
          startTimeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS,
        }),
      );
    }

    await each((node) => node.cli(['init', '--partner', node.partner, '--name', `${node.partner} harness`]));
    await each(async (node) => {
      const { stdout } = await node.cli(['keys', 'show', '--json']);
      writeFileSync(join(root, `${node.partner}.identity.json`), stdout);
      node.keys = await loadNodeKeys(node.dir, PASSPHRASE);
    });

    // Every party's keys pinned in the terms, then each party's node signs those terms.
    const identities = new Map<string, PublicIdentity>(
      [...nodes.values()].map((n) => [n.partner, (n.keys as NodeKeys).public]),
    );
    const signedAt = new Date().toISOString();
    arrangements = options.arrangements.map((terms) => {
      let signed = withPinnedKeys(terms, identities);
      for (const party of signed.parties) {
        const keys = nodes.get(party.partner)?.keys;
        if (keys === undefined) {
          throw new Error(`harness: party ${party.partner} of ${terms.id} has no node in the cluster`);
        }
        signed = signArrangementAs(signed, party.partner, signerOf(keys), signedAt);
      }
      return signed;
    });
    const arrangementFiles = new Map<ArrangementDocument, string>();
    for (const signed of arrangements) {
      const file = join(root, `arrangement-${signed.id}.json`);
      writeFileSync(file, JSON.stringify(signed, null, 2));
      arrangementFiles.set(signed, file);
    }
    const endpoints = new Map<string, string>();
    for (const node of nodes.values()) {
      endpoints.set(node.partner, (await options.endpointFor?.(node)) ?? node.url);
    }

    // A node records the partners it shares an arrangement with (every node, with one arrangement).
    const signed = arrangements;
    const shareAny = (a: string, b: string) =>
      signed.some(
        (terms) => terms.parties.some((p) => p.partner === a) && terms.parties.some((p) => p.partner === b),
      );
    await each(async (node) => {
      if (options.inProcessSetUp === true) {
        await recordInProcess(
          node,
          [...nodes.values()].filter((o) => o !== node && shareAny(node.partner, o.partner)),
          signed,
        );
        return;
      }
      for (const other of nodes.values()) {
        if (other === node || !shareAny(node.partner, other.partner)) continue;
        await node.cli([
          'partner',
          'add',
          other.partner,
          '--identity',
          join(root, `${other.partner}.identity.json`),
          '--endpoint',
          endpoints.get(other.partner) ?? other.url,
        ]);
      }
      const lower = node.partner.toLowerCase();
      for (const [username, role] of [
        [`analyst.${lower}`, 'analyst'],
        [`officer.${lower}`, 'release-officer'],
      ] as const) {
        await node.cli([
          'user',
          'add',
          '--username',
          username,
          '--nationality',
          node.partner,
          '--clearance',
          'TOP SECRET',
          '--role',
          role,
          '--caveats',
          'SI,TK',
          '--password-env',
          PASSWORD_ENV,
        ]);
      }
      for (const signed of arrangements) {
        if (!signed.parties.some((p) => p.partner === node.partner)) continue;
        await node.cli(['arrangement', 'add', arrangementFiles.get(signed) ?? '', '--as', 'admin']);
      }
    });

    await inParallel([...nodes.values()], options.startConcurrency ?? nodes.size, (node) => node.start());
  } catch (error) {
    const report = output();
    await cluster.close();
    throw new Error(`${(error as Error).message}\n${report}`, { cause: error });
  }
  return cluster;
}
