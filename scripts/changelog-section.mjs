#!/usr/bin/env node
// Prints the CHANGELOG.md section of one version (the release notes of its GitHub release).
//   node scripts/changelog-section.mjs 0.1.0
import { readFileSync } from 'node:fs';

const version = process.argv[2];
if (!version) {
  process.stderr.write('usage: node scripts/changelog-section.mjs VERSION\n');
  process.exit(2);
}
const text = readFileSync(new URL('../CHANGELOG.md', import.meta.url), 'utf8');
const lines = text.split('\n');
const start = lines.findIndex((l) => l.startsWith(`## [${version}]`));
if (start < 0) {
  process.stderr.write(`CHANGELOG.md has no section "## [${version}]"\n`);
  process.exit(1);
}
const end = lines.findIndex((l, i) => i > start && l.startsWith('## ['));
process.stdout.write(
  `${lines
    .slice(start + 1, end < 0 ? undefined : end)
    .join('\n')
    .trim()}\n`,
);
