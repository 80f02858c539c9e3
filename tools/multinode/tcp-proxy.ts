import { connect, createServer, type Server, type Socket } from 'node:net';

// A TCP proxy on loopback in front of one node's port, for chaos runs: partners record the proxy
// as the node's endpoint, so every federation request and answer between nodes passes through it,
// and it resets connections mid-flight at a given rate. A reset while the request is still going
// up loses the request; one once the answer has started loses the answer of a request the node
// has already handled: the window in which a careless outbox delivers twice.

/** How the proxy breaks connections: each chunk it forwards is followed by a reset with this chance. */
export interface DropPolicy {
  /** The chance, 0–1, that a chunk just forwarded is the last one: both sides are reset. */
  readonly rate: number;
}

/** One node's proxy: where it listens, and how many connections it has reset. */
export class TcpProxy {
  readonly #server: Server;
  readonly #target: number;
  readonly #open = new Set<Socket>();
  #policy: DropPolicy = { rate: 0 };
  #drops = 0;
  #connections = 0;
  #port = 0;

  private constructor(target: number) {
    this.#target = target;
    this.#server = createServer((client) => this.#relay(client));
  }

  /** A proxy to 127.0.0.1:`target`, listening on 127.0.0.1:`port` (0: any free port). */
  static async start(target: number, port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await new Promise<void>((done, fail) => {
      proxy.#server.once('error', fail);
      proxy.#server.listen(port, '127.0.0.1', () => {
        proxy.#server.off('error', fail);
        done();
      });
    });
    const address = proxy.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');
    proxy.#port = address.port;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Connections reset by the policy so far. */
  get drops(): number {
    return this.#drops;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Changes the drop rate from now on (0 stops dropping). */
  setPolicy(policy: DropPolicy): void {
    if (!(policy.rate >= 0 && policy.rate <= 1))
      throw new Error(`proxy: drop rate ${policy.rate} not in 0–1`);
    this.#policy = policy;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    await new Promise<void>((done) => this.#server.close(() => done()));
  }

  #relay(client: Socket): void {
    this.#connections += 1;
    const upstream = connect(this.#target, '127.0.0.1');
    this.#open.add(client);
    this.#open.add(upstream);
    let reset = false;
    const drop = () => {
      if (reset) return;
      reset = true;
      this.#drops += 1;
      // RST, not FIN: the peer sees ECONNRESET, as when a link or a middlebox fails.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (reset) return;
        const flushed = to.write(chunk);
        if (Math.random() < this.#policy.rate) {
          // Mid-flight: part of a request reached the node, or part of its answer the caller.
          drop();
          return;
        }
        if (!flushed) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
    const closed = (socket: Socket, other: Socket) => (hadError: boolean) => {
      this.#open.delete(socket);
      // A side that failed (the node SIGKILLed, say) fails the other; one that closed cleanly
      // lets the other finish writing what it was given.
      if (hadError) other.destroy();
      else other.end();
    };
    client.on('close', closed(client, upstream));
    upstream.on('close', closed(upstream, client));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  }
}
