import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { operatorLogger } from '../../../src/cli/logger.js';

/** The operator's logger writes each line before the call that logged it returns. */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempFile(): { file: string; fd: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-logger-'));
  dirs.push(dir);
  const file = path.join(dir, 'out.log');
  return { file, fd: fs.openSync(file, 'w') };
}

describe('operatorLogger', () => {
  it('has written every line, in order, by the time the logging call returns', () => {
    const { file, fd } = tempFile();
    const logger = operatorLogger('info', fd);
    for (let i = 0; i < 500; i++) logger.info({ component: 'audit', audit: { n: i } }, 'tool call');
    logger.debug('below the level: not written');
    // Read at once, without yielding to the event loop: an asynchronous destination has written
    // nothing yet (its writes complete on later turns of the loop).
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    fs.closeSync(fd);
    expect(lines).toHaveLength(500);
    const records = lines.map((l) => JSON.parse(l) as { app: string; msg: string; audit: { n: number } });
    expect(records.map((r) => r.audit.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(records[0]).toMatchObject({ app: 'kubemcp', level: 30, msg: 'tool call', component: 'audit' });
  });
});
