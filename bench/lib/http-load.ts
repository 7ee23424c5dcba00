/**
 * The load generator's HTTP client: GET over keep-alive HTTP/1.1 connections, one request at a time on
 * each, with as little work per request as the protocol allows — the request bytes are built once per
 * (path, headers), and of the response only the status line and the body's length are read (the body
 * itself is counted, not decoded). On a two-core machine the generator's CPU is taken from the server it
 * measures, so what the generator spends per request is part of what a benchmark reports as the API's
 * throughput; wrk and autocannon are lean for the same reason.
 *
 * Enough HTTP for our own server: `Content-Length` bodies and chunked ones; a connection the server
 * closes is dropped and the next request opens a new one. Not a general client: no redirects, no
 * request bodies, no pipelining.
 */
import net from "node:net";

export interface LoadClient {
  /** GET `path`; resolves true when the answer's status is 200, after its whole body arrived. */
  get(path: string, headers?: Record<string, string>): Promise<boolean>;
  /** Closes every connection. */
  close(): void;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const LAST_CHUNK = Buffer.from("0\r\n\r\n");

class Connection {
  readonly socket: net.Socket;
  private waiting: { resolve: (ok: boolean) => void; reject: (err: Error) => void } | undefined;
  /** Response bytes before the end of the header. */
  private head: Buffer | undefined;
  private status = 0;
  /** Body bytes still to come (Content-Length), or -1 for a chunked body. */
  private remaining = 0;
  /** A chunked body's last bytes, to see its terminating chunk across reads. */
  private tail = Buffer.alloc(0);
  private inBody = false;

  constructor(host: string, port: number, onClosed: (c: Connection) => void) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on("data", (d: Buffer) => this.data(d));
    this.socket.on("error", (err) => this.fail(err));
    this.socket.on("close", () => {
      onClosed(this);
      this.fail(new Error("the server closed the connection"));
    });
  }

  send(request: Buffer): Promise<boolean> {
    this.head = undefined;
    this.inBody = false;
    this.tail = Buffer.alloc(0);
    return new Promise<boolean>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  private data(d: Buffer): void {
    if (!this.waiting) return;
    let body = d;
    if (!this.inBody) {
      const bytes = this.head ? Buffer.concat([this.head, d]) : d;
      const end = bytes.indexOf(HEADER_END);
      if (end < 0) {
        this.head = bytes;
        return;
      }
      const header = bytes.toString("latin1", 0, end);
      this.status = Number(header.slice(9, 12));
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(header);
      this.remaining = length ? Number(length[1]) : /\r\ntransfer-encoding:[^\r]*chunked/i.test(header) ? -1 : 0;
      this.inBody = true;
      body = bytes.subarray(end + HEADER_END.length);
    }
    if (this.remaining >= 0) {
      this.remaining -= body.length;
      if (this.remaining <= 0) this.done();
      return;
    }
    this.tail = Buffer.concat([this.tail, body]).subarray(-LAST_CHUNK.length);
    if (this.tail.equals(LAST_CHUNK)) this.done();
  }

  private done(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve(this.status === 200);
  }

  private fail(err: Error): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }
}

export function loadClient(base: string): LoadClient {
  const url = new URL(base);
  const host = url.hostname;
  const port = Number(url.port);
  const idle: Connection[] = [];
  const open = new Set<Connection>();
  const requests = new Map<string, Buffer>();
  const closed = (c: Connection) => {
    open.delete(c);
    const k = idle.indexOf(c);
    if (k >= 0) idle.splice(k, 1);
  };
  const request = (path: string, headers: Record<string, string> | undefined): Buffer => {
    const key = headers ? `${path}\n${JSON.stringify(headers)}` : path;
    let bytes = requests.get(key);
    if (!bytes) {
      const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(headers ?? {}).map(([k, v]) => `${k}: ${v}`)];
      bytes = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
      requests.set(key, bytes);
    }
    return bytes;
  };
  return {
    async get(path, headers) {
      let c = idle.pop();
      if (!c) {
        c = new Connection(host, port, closed);
        open.add(c);
      }
      const ok = await c.send(request(path, headers));
      if (open.has(c)) idle.push(c);
      return ok;
    },
    close() {
      for (const c of open) c.socket.destroy();
      open.clear();
      idle.length = 0;
    },
  };
}
