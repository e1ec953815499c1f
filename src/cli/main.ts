#!/usr/bin/env node
/** Entry point of the `kubemcp` binary (package.json bin → dist/cli/main.js). */

import { runCli } from './cli.js';

const SHUTDOWN_GRACE_MS = 20_000;

async function main(): Promise<void> {
  const result = await runCli(process.argv.slice(2));
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

main().catch((err: unknown) => {
  process.stderr.write(`kubemcp: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
