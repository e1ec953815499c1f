import type { IncomingMessage, ServerResponse } from 'node:http';
import { capForLog, type RateLimitedLog } from './logbudget.js';

/**
 * The last resort of a request listener: whatever it throws (synchronously, or as the rejection of
 * the promise it returns) is answered with 400 and logged (rate-limited, values capped) instead of
 * escaping into Node's HTTP server, where an exception in a listener ends the process. A request that
 * reaches this is one no check foresaw; the answer is the caller's problem, the log line ours.
 */

export type Listener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface LastResortAnswer {
  readonly contentType: string;
  readonly body: string;
}

export function withLastResort(
  listener: Listener,
  answer: LastResortAnswer,
  log: RateLimitedLog | undefined,
): (req: IncomingMessage, res: ServerResponse) => void {
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    log?.write(
      {
        method: capForLog(req.method, 16),
        target: capForLog(req.url),
        err: capForLog(err instanceof Error ? err.message : err),
      },
      'a request listener threw: answered 400',
    );
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(400, {
      'Content-Type': answer.contentType,
      'Content-Length': Buffer.byteLength(answer.body),
      'Cache-Control': 'no-store',
      Connection: 'close',
    });
    res.end(answer.body);
  };
  return (req, res) => {
    try {
      const pending = listener(req, res);
      if (pending instanceof Promise) pending.catch((err: unknown) => fail(req, res, err));
    } catch (err) {
      fail(req, res, err);
    }
  };
}
