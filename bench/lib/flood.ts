/**
 * An open-loop HTTP flood: `rate` POSTs per second for `seconds`, over keep-alive connections, at most
 * 256 in flight (a request that would pass that is skipped and counted, not queued). Each request's
 * headers and body come from `request()`, so every request can carry a fresh token. Run it in a
 * child process, so that its CPU does not come out of the process that measures.
 *
 * It speaks HTTP/1.1 on plain sockets (one request at a time per connection) instead of going
 * through node:http: a flood of 1,000 requests/s through http.request costs the generator most of a
 * core, and on a small machine that CPU would come out of the server it is meant to test. Answers
 * are read only as far as the status and Content-Length (the server under test always sends one;
 * a chunked answer is counted as an error and its connection dropped).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FloodReport {
  readonly sent: number;
  /** Requests not sent because 256 were already in flight. */
  readonly skipped: number;
  /** Answers by HTTP status, and `error <code>` for requests that failed. */
  readonly statuses: Record<string, number>;
  readonly seconds: number;
}

const MAX_IN_FLIGHT = 256;
const HEADER_END = Buffer.from('\r\n\r\n');

interface Conn {
  readonly socket: net.Socket;
  /** A request was sent and its answer is not complete yet. */
  busy: boolean;
  /** The connection may take another request. */
  alive: boolean;
  /** The socket has closed (counted out of `open`). */
  closed: boolean;
  buf: Buffer;
}

export async function flood(
  url: string,
  rate: number,
  seconds: number,
  request: () => { headers: Record<string, string>; body: string },
): Promise<FloodReport> {
  const target = new URL(url);
  const port = Number(target.port);
  const statuses: Record<string, number> = {};
  const count = (key: string): void => {
    statuses[key] = (statuses[key] ?? 0) + 1;
  };
  const idle: Conn[] = [];
  let open = 0;
  let inflight = 0;
  let sent = 0;
  let skipped = 0;

  const finish = (conn: Conn, key: string): void => {
    conn.busy = false;
    inflight--;
    count(key);
    if (conn.alive) idle.push(conn);
  };
  const connect = (): Conn => {
    const socket = net.connect(port, target.hostname);
    socket.setNoDelay(true);
    const conn: Conn = { socket, busy: false, alive: true, closed: false, buf: Buffer.alloc(0) };
    open++;
    socket.on('data', (chunk: Buffer) => {
      conn.buf = conn.buf.length === 0 ? chunk : Buffer.concat([conn.buf, chunk]);
      const end = conn.buf.indexOf(HEADER_END);
      if (end < 0 || !conn.busy) return;
      const head = conn.buf.toString('latin1', 0, end);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (length === null) {
        conn.alive = false;
        socket.destroy();
        finish(conn, 'error unframed answer');
        return;
      }
      const total = end + HEADER_END.length + Number(length[1]);
      if (conn.buf.length < total) return;
      conn.buf = conn.buf.subarray(total);
      if (/\r\nconnection: *close/i.test(head)) conn.alive = false;
      finish(conn, head.slice(9, 12));
    });
    const gone = (code: string): void => {
      if (conn.closed) return;
      conn.closed = true;
      conn.alive = false;
      open--;
      const i = idle.indexOf(conn);
      if (i >= 0) idle.splice(i, 1);
      if (conn.busy) finish(conn, `error ${code}`);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => gone(err.code ?? err.message));
    socket.on('close', () => gone('ECONNRESET'));
    return conn;
  };
  const fire = (): void => {
    let conn = idle.pop();
    while (conn !== undefined && !conn.alive) conn = idle.pop();
    if (conn === undefined) {
      if (inflight >= MAX_IN_FLIGHT || open >= MAX_IN_FLIGHT) {
        skipped++;
        return;
      }
      conn = connect();
    }
    const r = request();
    const body = Buffer.from(r.body);
    let head = `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n`;
    for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
    head += `Content-Length: ${body.length}\r\n\r\n`;
    conn.busy = true;
    inflight++;
    sent++;
    conn.socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  };

  const start = performance.now();
  const end = start + seconds * 1000;
  // Every 10 ms, send what the schedule says is due.
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (sent + skipped < due) fire();
    await sleep(10);
  }
  const drainUntil = end + 15_000;
  while (inflight > 0 && performance.now() < drainUntil) await sleep(20);
  for (const c of idle) c.socket.destroy();
  return { sent, skipped, statuses, seconds: (performance.now() - start) / 1000 };
}
