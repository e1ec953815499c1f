/** How `kubemcp test` prints a run: a table (default), JSON, and a JUnit XML file for CI. */

import { describePolicies } from '../policy/index.js';
import { formatProblem } from '../policyfile/problems.js';
import type { CaseResult, TestRun } from '../policyfile/run.js';

export function summaryLine(results: readonly CaseResult[]): string {
  const failed = results.filter((r) => !r.passed).length;
  return `${results.length - failed} passed, ${failed} failed`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** The table: one row per case (only failures with failOnly), each failure's reason under it. */
export function renderTable(run: TestRun, failOnly: boolean): string {
  const lines: string[] = [];
  for (const p of run.problems) lines.push(`error: ${formatProblem(p)}`);
  for (const w of run.warnings)
    lines.push(
      `warning: ${w.file}:${w.line}: ${describePolicies([w.policy])}: ${w.warning.code}: ${w.warning.message}`,
    );
  const rows = run.results.filter((r) => !failOnly || !r.passed);
  if (rows.length > 0) {
    const where = rows.map((r) => `${r.file}:${r.line}`);
    const w1 = Math.max(8, ...where.map((s) => s.length));
    const w2 = Math.max(4, ...rows.map((r) => r.name.length));
    const w3 = Math.max(8, ...rows.map((r) => r.expected.length));
    lines.push(`RESULT  ${pad('LOCATION', w1)}  ${pad('CASE', w2)}  ${pad('EXPECTED', w3)}  GOT`);
    rows.forEach((r, i) => {
      lines.push(
        `${r.passed ? 'PASS' : 'FAIL'}    ${pad(where[i] ?? '', w1)}  ${pad(r.name, w2)}  ${pad(r.expected, w3)}  ${r.got}`,
      );
      if (r.message !== undefined) lines.push(`        ${r.message}`);
    });
  }
  lines.push(summaryLine(run.results));
  return lines.join('\n');
}

export function renderJson(run: TestRun, failOnly: boolean): string {
  const failed = run.results.filter((r) => !r.passed).length;
  return JSON.stringify(
    {
      passed: run.results.length - failed,
      failed,
      problems: run.problems,
      warnings: run.warnings.map((w) => ({ policy: w.policy, file: w.file, line: w.line, ...w.warning })),
      results: run.results.filter((r) => !failOnly || !r.passed),
    },
    null,
    2,
  );
}

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/gu, '');
}

/** JUnit XML: one testsuite per manifest file, one testcase per case; invalid policies as errors. */
export function renderJunit(run: TestRun): string {
  const byFile = new Map<string, CaseResult[]>();
  for (const r of run.results) {
    const list = byFile.get(r.file);
    if (list) list.push(r);
    else byFile.set(r.file, [r]);
  }
  const failed = run.results.filter((r) => !r.passed).length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="kubemcp test" tests="${run.results.length + run.problems.length}" failures="${failed}" errors="${run.problems.length}">`,
  ];
  if (run.problems.length > 0) {
    out.push(
      `  <testsuite name="policy validation" tests="${run.problems.length}" failures="0" errors="${run.problems.length}">`,
    );
    for (const p of run.problems) {
      const text = xml(formatProblem(p));
      out.push(`    <testcase classname="validation" name="${text}"><error message="${text}"/></testcase>`);
    }
    out.push('  </testsuite>');
  }
  for (const [file, results] of byFile) {
    const f = results.filter((r) => !r.passed).length;
    out.push(`  <testsuite name="${xml(file)}" tests="${results.length}" failures="${f}" errors="0">`);
    for (const r of results) {
      const open = `    <testcase classname="${xml(file)}" name="${xml(r.name)}" file="${xml(file)}" line="${r.line}"`;
      if (r.passed) out.push(`${open}/>`);
      else {
        const message = xml(r.message ?? 'failed');
        out.push(`${open}><failure message="${message}">${message}</failure></testcase>`);
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
