/**
 * A problem in a file the CLI read (a policy file, a test manifest): where it is and what is wrong,
 * printed as `FILE:LINE: message` like a compiler error.
 */

export interface FileProblem {
  readonly file: string;
  /** 1-based; 0 when the problem is about the file as a whole. */
  readonly line: number;
  readonly message: string;
}

export function formatProblem(p: FileProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** Thrown where a problem ends the reading of one file. */
export class FileProblemError extends Error {
  constructor(readonly problem: FileProblem) {
    super(formatProblem(problem));
    this.name = 'FileProblemError';
  }
}
