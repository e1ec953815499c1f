/** How `kubemcp diff` prints a PolicyDiff: text, JSON, and Markdown for a pull-request comment. */

import { describePolicies } from '../policy/index.js';
import type { GrantRow, LimitChange, PolicyDiff } from '../policyfile/diff.js';

const WRITE_MARK = '[write]';

function grantLine(sign: '+' | '-', r: GrantRow): string {
  return `${sign} ${r.subject}: ${r.tool} in ${r.scope} (${describePolicies(r.policies)})${r.write ? ` ${WRITE_MARK}` : ''}`;
}

function value(v: number | boolean | undefined): string {
  return v === undefined ? 'unset' : String(v);
}

function limitLine(l: LimitChange): string {
  return `${l.direction === 'widened' ? '+' : '-'} ${describePolicies([l.policy])}: ${l.field} ${value(l.old)} → ${value(l.new)} (${l.direction})${l.write && l.direction === 'widened' ? ` ${WRITE_MARK}` : ''}`;
}

function summary(d: PolicyDiff): string {
  if (!d.changed) return 'No change in what the McpPolicies grant.';
  return `${d.grantsAdded.length} grants added, ${d.grantsRemoved.length} removed, ${d.limits.length} limits changed, ${d.newWarnings.length} new warnings; ${d.writeWidenings} widenings of write access.`;
}

export function renderDiffText(d: PolicyDiff): string {
  const lines: string[] = [];
  for (const p of d.policies)
    lines.push(`${p.kind} ${p.policy}: ${p.change}${p.message ? `: ${p.message}` : ''}`);
  if (d.grantsAdded.length + d.grantsRemoved.length > 0) lines.push('Grants:');
  for (const r of d.grantsAdded) lines.push(`  ${grantLine('+', r)}`);
  for (const r of d.grantsRemoved) lines.push(`  ${grantLine('-', r)}`);
  if (d.limits.length > 0) lines.push('Bounds and limits (+ widened, - narrowed):');
  for (const l of d.limits) lines.push(`  ${limitLine(l)}`);
  if (d.newWarnings.length > 0) lines.push('New warnings:');
  for (const w of d.newWarnings) lines.push(`  ! ${describePolicies([w.policy])}: ${w.code}: ${w.message}`);
  lines.push(summary(d));
  return lines.join('\n');
}

export function renderDiffJson(d: PolicyDiff): string {
  return JSON.stringify(d, null, 2);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderDiffMarkdown(d: PolicyDiff): string {
  const out = ['### kubemcp diff', ''];
  if (d.writeWidenings > 0)
    out.push(
      `> **${d.writeWidenings} widening${d.writeWidenings === 1 ? '' : 's'} of write access**: a second approval is advised.`,
      '',
    );
  out.push(summary(d), '');
  if (d.policies.length > 0) {
    out.push('| Policy | Change |', '|---|---|');
    for (const p of d.policies)
      out.push(
        `| ${cell(`${p.kind} ${p.policy}`)} | ${cell(p.change + (p.message ? `: ${p.message}` : ''))} |`,
      );
    out.push('');
  }
  if (d.grantsAdded.length + d.grantsRemoved.length > 0) {
    out.push('| | Subject | Tool | Namespaces | Policy |', '|---|---|---|---|---|');
    const row = (sign: string, r: GrantRow) =>
      `| ${sign}${r.write ? ' ⚠️ write' : ''} | ${cell(r.subject)} | \`${r.tool}\` | ${cell(r.scope)} | ${cell(r.policies.join(', '))} |`;
    for (const r of d.grantsAdded) out.push(row('➕ added', r));
    for (const r of d.grantsRemoved) out.push(row('➖ removed', r));
    out.push('');
  }
  if (d.limits.length > 0) {
    out.push('| Policy | Field | Old | New | |', '|---|---|---|---|---|');
    for (const l of d.limits)
      out.push(
        `| ${cell(l.policy)} | \`${l.field}\` | ${value(l.old)} | ${value(l.new)} | ${l.direction}${l.write && l.direction === 'widened' ? ' ⚠️ write' : ''} |`,
      );
    out.push('');
  }
  if (d.newWarnings.length > 0) {
    out.push('New warnings:', '');
    for (const w of d.newWarnings)
      out.push(`- ${cell(describePolicies([w.policy]))}: **${w.code}**: ${cell(w.message)}`);
    out.push('');
  }
  return out.join('\n');
}
