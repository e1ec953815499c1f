/** Exit statuses of `kubemcp check`, `test` and `diff` (docs/cli.md), and of a usage error. */

export const EXIT_ALLOWED = 0;
export const EXIT_DENIED = 1;
export const EXIT_USAGE = 2;
/** The cluster could not be asked (unreachable, forbidden, no CRD). */
export const EXIT_ERROR = 3;
