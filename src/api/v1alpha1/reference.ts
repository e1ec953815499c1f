/**
 * The field table of docs/policy-reference.md, generated from the same schema as the CRD, so the
 * reference cannot drift from the API. Pure.
 */

import { type JSONSchemaProps, specSchema, statusSchema } from './crd.js';

export const REFERENCE_FILE = 'docs/policy-reference.md';
export const BEGIN_MARKER = '<!-- BEGIN GENERATED: fields (npm run manifests) -->';
export const END_MARKER = '<!-- END GENERATED: fields -->';

export interface FieldRow {
  readonly path: string;
  readonly schema: JSONSchemaProps;
  readonly required: boolean;
}

/** Every property under `root`, depth first, in schema order: `spec.subjects`, `spec.subjects[].kind`, ... */
export function fieldRows(schema: JSONSchemaProps, root: string): FieldRow[] {
  const rows: FieldRow[] = [];
  const walk = (node: JSONSchemaProps, path: string): void => {
    const target = node.type === 'array' && node.items ? node.items : node;
    const prefix = node.type === 'array' ? `${path}[]` : path;
    const required = new Set(target.required ?? []);
    for (const [name, child] of Object.entries(target.properties ?? {})) {
      const childPath = `${prefix}.${name}`;
      rows.push({ path: childPath, schema: child, required: required.has(name) });
      walk(child, childPath);
    }
  };
  walk(schema, root);
  return rows;
}

function typeOf(s: JSONSchemaProps): string {
  if (s.type === 'array') return `[]${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties) return `map[string]${typeOf(s.additionalProperties)}`;
  return s.type ?? 'any';
}

function constraints(s: JSONSchemaProps): string[] {
  const out: string[] = [];
  if (s.enum) out.push(`one of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (s.minItems !== undefined || s.maxItems !== undefined)
    out.push(`${s.minItems ?? 0}–${s.maxItems ?? '∞'} items`);
  if (s.maxProperties !== undefined) out.push(`at most ${s.maxProperties} entries`);
  if (s.minimum !== undefined || s.maximum !== undefined)
    out.push(`${s.minimum ?? '−∞'}–${s.maximum ?? '∞'}`);
  if (s.default !== undefined) out.push(`default \`${JSON.stringify(s.default)}\``);
  const element = s.type === 'array' ? s.items : undefined;
  if (element?.maxLength !== undefined) out.push(`each at most ${element.maxLength} characters`);
  else if (s.maxLength !== undefined && s.type === 'string') out.push(`at most ${s.maxLength} characters`);
  return out;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A Markdown table of every spec and status field: path, type and bounds, required, description. */
export function renderFieldTable(): string {
  const lines = ['| Field | Type | Required | Description |', '| --- | --- | --- | --- |'];
  const rows = [...fieldRows(specSchema(), 'spec'), ...fieldRows(statusSchema(), 'status')];
  for (const row of rows) {
    const type = [`\`${typeOf(row.schema)}\``, ...constraints(row.schema)].join(', ');
    const required = row.path.startsWith('status.') ? 'set by the controller' : row.required ? 'yes' : 'no';
    lines.push(`| \`${row.path}\` | ${type} | ${required} | ${cell(row.schema.description ?? '')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces the text between the markers with a fresh table; throws when the markers are missing. */
export function replaceGeneratedSection(doc: string): string {
  const begin = doc.indexOf(BEGIN_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (begin === -1 || end === -1 || end < begin) {
    throw new Error(`${REFERENCE_FILE} needs the markers ${BEGIN_MARKER} and ${END_MARKER}`);
  }
  return `${doc.slice(0, begin + BEGIN_MARKER.length)}\n${renderFieldTable()}${doc.slice(end)}`;
}
