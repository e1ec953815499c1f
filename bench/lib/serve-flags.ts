/** How the benchmarks run `kubemcp serve`: with the Node flags the shipped Deployment sets. */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** NODE_OPTIONS of the manager container in config/manager/deployment.yaml. */
export function shippedNodeOptions(): string {
  const manifest = parseYaml(
    fs.readFileSync(path.join(ROOT, 'config', 'manager', 'deployment.yaml'), 'utf8'),
  ) as {
    spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
  };
  const env = manifest.spec?.template?.spec?.containers?.flatMap((c) => c.env ?? []) ?? [];
  return env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
}
