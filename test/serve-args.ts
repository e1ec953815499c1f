/**
 * The one place tests build `kubemcp serve`'s command line (process.execPath's argv, run from the
 * repository root). Every option maps to one flag; an option left out leaves serve's default.
 */

export interface ServeArgs {
  /** `tsx` runs src/cli/main.ts through the tsx loader; `dist` runs the built dist/cli/main.js. */
  readonly entry?: 'tsx' | 'dist';
  /** Node flags before the entry point (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  readonly kubeconfig: string;
  /** `0` lets the kernel pick. */
  readonly mcpPort: number;
  readonly healthPort: number;
  /** Defaults to 127.0.0.1: tests never listen on other interfaces. */
  readonly bindAddress?: string;
  readonly publicUrl?: string;
  readonly leaseNamespace?: string;
  readonly leaseName?: string;
  readonly identity?: string;
  readonly logLevel?: string;
  /** Appended last, so a test can add any other flag. */
  readonly extraArgs?: readonly string[];
}

export function serveArgs(o: ServeArgs): string[] {
  const entry = o.entry === 'dist' ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
  const flag = (name: string, value: string | number | undefined): string[] =>
    value === undefined ? [] : [`--${name}`, String(value)];
  return [
    ...(o.nodeArgs ?? []),
    ...entry,
    'serve',
    ...flag('kubeconfig', o.kubeconfig),
    ...flag('mcp-port', o.mcpPort),
    ...flag('health-port', o.healthPort),
    ...flag('bind-address', o.bindAddress ?? '127.0.0.1'),
    ...flag('public-url', o.publicUrl),
    ...flag('leader-election-namespace', o.leaseNamespace),
    ...flag('lease-name', o.leaseName),
    ...flag('identity', o.identity),
    ...flag('log-level', o.logLevel),
    ...(o.extraArgs ?? []),
  ];
}
