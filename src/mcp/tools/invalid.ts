import type { z } from 'zod';
import { ToolError } from '../errors.js';

/** Invalid arguments as one readable sentence, never echoing much of the input. */

/** How much of one issue, and of all of them, an Invalid result repeats (issues may quote the input). */
const MAX_ISSUE_TEXT = 200;
const MAX_ISSUES_SHOWN = 5;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Turns a zod error into one readable sentence for an Invalid result, never echoing much of the input. */
export function invalidArguments(tool: string, error: z.ZodError): ToolError {
  const details = error.issues.slice(0, MAX_ISSUES_SHOWN).map((i) => {
    const path = i.path.length ? i.path.map((p) => clip(String(p), 63)).join('.') : 'arguments';
    return clip(`${path}: ${i.message}`, MAX_ISSUE_TEXT);
  });
  if (error.issues.length > MAX_ISSUES_SHOWN) {
    details.push(`and ${error.issues.length - MAX_ISSUES_SHOWN} more problems`);
  }
  return new ToolError('Invalid', `Invalid arguments for ${clip(tool, 63)}`, {
    reason: details.join('; '),
    suggestions: ['Check the tool input schema (tools/list) and call again with corrected arguments'],
  });
}
