/** A minimal HTTPS client for the harness's own readiness checks (no client library needed). */
import fs from 'node:fs';
import https from 'node:https';

export interface ApiTarget {
  readonly server: string;
  readonly caFile: string;
  readonly token: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
  json<T = unknown>(): T;
}

export function apiRequest(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 5000,
  contentType = 'application/json',
): Promise<ApiResponse> {
  const url = new URL(path, target.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: fs.readFileSync(target.caFile),
        headers: {
          authorization: `Bearer ${target.token}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': contentType } : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
