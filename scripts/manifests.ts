/**
 * `npm run manifests`: writes the generated files from the one McpPolicy schema in src/api/v1alpha1:
 * the CRD in crds/ (applied with `kubectl apply -f crds/`) and in the kustomize base config/crd, and the
 * field table in docs/policy-reference.md. test/unit/api fails when they drift.
 */

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  CRD_FILES,
  REFERENCE_FILE,
  renderCrdYaml,
  replaceGeneratedSection,
  TENANCY_CRDS,
} from '../src/api/v1alpha1/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

async function main(): Promise<void> {
  for (const file of CRD_FILES) {
    await writeFile(`${root}${file}`, renderCrdYaml());
    console.log(`wrote ${file}`);
  }
  for (const crd of TENANCY_CRDS) {
    for (const file of [...crd.files, crd.chartFile]) {
      await writeFile(`${root}${file}`, crd.render());
      console.log(`wrote ${file}`);
    }
  }
  const docPath = `${root}${REFERENCE_FILE}`;
  const doc = await readFile(docPath, 'utf8');
  const updated = replaceGeneratedSection(doc);
  if (updated !== doc) await writeFile(docPath, updated);
  console.log(`${updated === doc ? 'unchanged' : 'updated'} ${REFERENCE_FILE}`);
}

await main();
