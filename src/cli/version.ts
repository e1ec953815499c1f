import { readFileSync } from 'node:fs';

/** Set by the kubectl plugin's single-file build (scripts/kubectl-plugin.ts), which has no package.json. */
declare const KUBEMCP_BUNDLED_VERSION: string | undefined;

/** The package version: from package.json (two levels up from src/cli and dist/cli alike). */
export const VERSION: string = (() => {
  if (typeof KUBEMCP_BUNDLED_VERSION === 'string') return KUBEMCP_BUNDLED_VERSION;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
