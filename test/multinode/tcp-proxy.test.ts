import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy } from '../../tools/multinode/tcp-proxy.js';

// The chaos run's proxy: with no drops it relays requests and answers whole; with drops it resets
// the connection mid-flight, the caller sees the connection fail, and the drop is counted.

let server: Server;
let proxy: TcpProxy;
/** Request bodies the server read to the end. */
const handled: string[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      handled.push(body);
      response.setHeader('content-type', 'text/plain');
      response.end(`echo ${body} ${'x'.repeat(200_000)}`);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  proxy = await TcpProxy.start((server.address() as AddressInfo).port);
});

afterAll(async () => {
  await proxy?.close();
  await new Promise((done) => server?.close(done));
});

const post = (body: string) =>
  fetch(`${proxy.url}/`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) }).then((r) => r.text());

describe('TcpProxy', () => {
  it('relays requests and long answers whole when it drops nothing', async () => {
    proxy.setPolicy({ rate: 0 });
    const answers = await Promise.all(['a', 'b', 'c'].map(post));
    expect(answers.map((a) => a.slice(0, 6))).toEqual(['echo a', 'echo b', 'echo c']);
    expect(answers.every((a) => a.length === 'echo a '.length + 200_000)).toBe(true);
    expect(proxy.drops).toBe(0);
  });

  it('resets every connection mid-flight at rate 1, and counts each', async () => {
    proxy.setPolicy({ rate: 1 });
    const before = proxy.drops;
    const outcomes = await Promise.allSettled(['d', 'e'].map(post));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(proxy.drops - before).toBe(2);
  });

  it('refuses a rate outside 0–1', () => {
    expect(() => proxy.setPolicy({ rate: 1.5 })).toThrow(/not in 0–1/);
    expect(() => proxy.setPolicy({ rate: Number.NaN })).toThrow(/not in 0–1/);
  });
});
