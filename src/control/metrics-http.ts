// The metrics endpoint: GET /metrics over node:http, off by default,
// loopback only unless the operator says --metrics-public (the counters
// tell an outsider much about the network behind the filter).

import { createServer, type Server } from 'node:http';
import { parseAddress } from '../packet/address.js';
import type { Logger } from '../log/logger.js';
import type { MetricsRegistry } from './metrics.js';

export interface ListenAddress {
  host: string;
  port: number;
}

function isLoopback(host: string): boolean {
  const a = parseAddress(host);
  if (!a) return false;
  if (a.af === 4) return a.words[0]! >>> 24 === 127;
  return a.words[0] === 0 && a.words[1] === 0 && a.words[2] === 0 && a.words[3] === 1;
}

/** Parses HOST:PORT or [V6]:PORT; a string says why it is refused. */
export function parseListenAddress(text: string, allowPublic = false): ListenAddress | string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) return `'${text}' is not HOST:PORT (e.g. 127.0.0.1:9180 or [::1]:9180)`;
  const host = m[1] === 'localhost' ? '127.0.0.1' : m[1]!;
  const port = Number(m[2]);
  if (!parseAddress(host)) return `'${m[1]}' is not an IP address`;
  if (port > 65535) return `port ${m[2]} is not 1..65535`;
  if (!allowPublic && !isLoopback(host))
    return `${host} is not a loopback address; add --metrics-public to serve metrics beyond this host`;
  return { host, port };
}

export class MetricsEndpoint {
  private server: Server | null = null;

  constructor(
    private readonly registry: MetricsRegistry,
    private readonly address: ListenAddress,
    private readonly log?: Logger,
  ) {}

  start(): void {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      let body: string;
      try {
        body = this.registry.render();
      } catch (e) {
        this.log?.error({ err: (e as Error).message }, 'metrics rendering failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics rendering failed: ${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    server.on('error', (e) => this.log?.error({ err: e.message, address: this.address }, 'metrics endpoint failed'));
    server.listen(this.address.port, this.address.host, () =>
      this.log?.info({ address: `${this.address.host}:${this.address.port}` }, 'metrics endpoint listening'),
    );
    this.server = server;
  }

  /** The port listened on (useful with port 0); null before listening. */
  get port(): number | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : null;
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
    this.server = null;
  }
}
