import pino, { type Logger } from 'pino';

/**
 * The operator's logger: JSON lines on standard output (fd 1), written synchronously, one write(2)
 * per line. An audit line is out before the answer it describes is sent, a crash or process.exit
 * loses none, and a slow reader of stdout slows the server down instead of queueing lines in memory
 * without bound (pino's default destination buffers asynchronously). docs/operations.md, "The audit
 * log".
 */
export function operatorLogger(level: string, fd = 1): Logger {
  return pino({ level, base: { app: 'kubemcp' } }, pino.destination({ dest: fd, sync: true }));
}
