/**
 * What the two executables run (package.json bin): `kubemcp` (main.ts) and `kubectl-kubemcp`
 * (kubectl-kubemcp.ts, which kubectl runs for `kubectl kubemcp …`). They differ only in the name
 * their help and errors use.
 */

import { runCli } from './cli.js';

const SHUTDOWN_GRACE_MS = 20_000;

async function main(program: string): Promise<void> {
  const result = await runCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    program,
  });
  if (typeof result === 'number') {
    process.exitCode = result;
    return;
  }
  const { handle, logger } = result;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    const timer = setTimeout(() => {
      logger.error('graceful shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    handle
      .shutdown(signal)
      .then(() => {
        clearTimeout(timer);
        logger.flush?.();
        process.exitCode = 0;
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Runs the command line of this process as `program` (the name help and errors use). */
export function runMain(program: string): void {
  main(program).catch((err: unknown) => {
    process.stderr.write(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
