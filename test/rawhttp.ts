/**
 * One HTTP/1.1 request written byte for byte on a fresh connection, for the request targets that
 * fetch() would never send (the list is test/hostile-targets.ts).
 */
import net from 'node:net';

export interface RawAnswer {
  /** The status code, or undefined when the connection closed without an answer. */
  readonly status: number | undefined;
  readonly text: string;
}

export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Readonly<Record<string, string>> = {},
  timeoutMs = 5000,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const lines = [`${method} ${target} HTTP/1.1`, 'Connection: close'];
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'host')) lines.push('Host: 127.0.0.1');
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, text });
    };
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('close', finish);
    socket.on('error', finish);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      finish();
    });
  });
}
