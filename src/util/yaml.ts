import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * The `yaml` package, loaded on first use. Only kubeconfig files and manifest generation need it; a
 * pod's operator (in-cluster credentials) never does, and it costs about 8 MiB of RSS once loaded.
 */
export function yaml(): typeof import('yaml') {
  return require('yaml') as typeof import('yaml');
}
