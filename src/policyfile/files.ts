/**
 * Which files a list of paths means: a file is itself, a directory is every `.yaml`/`.yml` file under
 * it (hidden directories and node_modules skipped), a glob (`policies/*.yaml`, `**` for any depth) is
 * the files it matches. The result is sorted and without duplicates, so runs are reproducible.
 */

import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const YAML_FILE = /\.ya?ml$/;

export function hasGlob(path: string): boolean {
  return /[*?[]/.test(path);
}

/** A path glob as a regular expression over `/`-separated relative paths. */
export function globRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile() && YAML_FILE.test(entry.name)) out.push(path);
  }
}

/** The YAML files under a directory, recursively. */
export function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  walk(dir, out);
  return out.sort();
}

export interface Expanded {
  readonly files: string[];
  /** Paths that name nothing: `no such file or directory`, `matches no file`. */
  readonly missing: { readonly path: string; readonly message: string }[];
}

/** Expands paths relative to `base`; returned files are absolute. */
export function expandPaths(paths: readonly string[], base: string): Expanded {
  const files = new Set<string>();
  const missing: { path: string; message: string }[] = [];
  for (const path of paths) {
    if (hasGlob(path)) {
      const first = path.search(/[*?[]/);
      const fixed = path.slice(0, path.lastIndexOf('/', first) + 1);
      const root = resolve(base, fixed || '.');
      const re = globRegex(path.slice(fixed.length));
      let found = 0;
      let candidates: string[] = [];
      try {
        candidates = yamlFilesUnder(root);
      } catch {
        // A missing root matches nothing.
      }
      for (const file of candidates) {
        if (re.test(relative(root, file).split('\\').join('/'))) {
          files.add(file);
          found++;
        }
      }
      if (found === 0) missing.push({ path, message: 'matches no YAML file' });
      continue;
    }
    const abs = resolve(base, path);
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      missing.push({ path, message: 'no such file or directory' });
      continue;
    }
    if (isDir) for (const f of yamlFilesUnder(abs)) files.add(f);
    else files.add(abs);
  }
  return { files: [...files].sort(), missing };
}
