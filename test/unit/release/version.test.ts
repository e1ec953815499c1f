/**
 * One version for everything (CHANGELOG.md): package.json's version is the chart's version and
 * appVersion, the kubectl plugin's, and a CHANGELOG section; the release workflow tags the image with it.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const read = (f: string) => fs.readFileSync(f, 'utf8');
const version = (JSON.parse(read('package.json')) as { version: string }).version;

describe('the one version', () => {
  it('is a semantic version', () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });

  it("is the chart's version and appVersion", () => {
    const chart = parse(read('charts/kubemcp/Chart.yaml')) as { version: string; appVersion: string };
    expect({ version: chart.version, appVersion: chart.appVersion }).toEqual({
      version,
      appVersion: version,
    });
  });

  it('has a CHANGELOG section', () => {
    expect(read('CHANGELOG.md')).toMatch(new RegExp(`^## \\[${version.replaceAll('.', '\\.')}\\]`, 'm'));
  });

  it('tags the released image and chart in the release workflow', () => {
    const wf = read('.github/workflows/release.yml');
    // The workflow's own ${…} expressions, as text: no template strings here.
    const $ = (expr: string) => `\${${expr}}`;
    expect(wf).toContain(
      `ghcr.io/${$('{ github.repository_owner }')}/kubemcp:${$('{ needs.verify.outputs.version }')}`,
    );
    expect(wf).toContain(`"v${$('version')}"`);
    // The packaged chart pulls the image of its own release, not the local build's kubemcp:dev.
    expect(wf).toContain(`tag: \\"${$('VERSION')}\\"`);
  });
});
