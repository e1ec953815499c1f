/** Progress output of the harness (stderr, so stdout stays clean for scripts) and its one error type. */

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A build or start failure, naming the component that failed and where its log is. */
export class HarnessError extends Error {
  constructor(
    readonly component: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${component}: ${message}`, options);
    this.name = 'HarnessError';
  }
}
