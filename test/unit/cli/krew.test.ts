/** The krew manifest template agrees with the package and with what `npm run kubectl-plugin` builds. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PLUGIN_ENTRY, pluginArchiveName } from '../../../scripts/kubectl-plugin.js';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
  version: string;
  engines: { node: string };
};

/** The manifest as krew-release-bot renders it for tag v<version>. */
function rendered(tag: string): Record<string, unknown> {
  const text = fs
    .readFileSync('.krew.yaml', 'utf8')
    .replace(
      /\{\{ addURIAndSha "([^"]+)" \.TagName \}\}/,
      (_m, uri: string) => `uri: ${uri}\n      sha256: "0000"`,
    )
    .replaceAll('{{ .TagName }}', tag);
  return parse(text) as Record<string, unknown>;
}

describe('.krew.yaml', () => {
  const tag = `v${pkg.version}`;
  const m = rendered(tag) as {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: { version: string; caveats: string; platforms: { uri: string; bin: string; sha256: string }[] };
  };

  it('is a krew Plugin named kubemcp at the package version', () => {
    expect(m).toMatchObject({
      apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
      kind: 'Plugin',
      metadata: { name: 'kubemcp' },
      spec: { version: tag },
    });
  });

  it('points at the archive and entry file the plugin build produces', () => {
    expect(m.spec.platforms.length).toBeGreaterThan(0);
    for (const p of m.spec.platforms) {
      expect(p.uri.endsWith(`/${tag}/${pluginArchiveName(pkg.version)}`)).toBe(true);
      expect(p.bin).toBe(PLUGIN_ENTRY);
    }
  });

  it('names the Node.js it needs, as package.json does', () => {
    const major = pkg.engines.node.match(/(\d+)/)?.[1];
    expect(m.spec.caveats).toContain(`Node.js ${major} or later`);
  });
});
