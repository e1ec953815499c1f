/** metav1.MicroTime: RFC 3339 with six fractional digits (Lease times, Event times). */

/** Formats ms since the epoch (fractions keep sub-millisecond digits) as a MicroTime. */
export function microTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.max(0, Math.round((ms - whole) * 1000)));
  return `${new Date(whole).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

/** Parses a MicroTime (or any RFC 3339 time, or a Date) to ms since the epoch, keeping microseconds. */
export function parseMicroTime(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string' || value === '') return undefined;
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  const base = Date.parse(`${m[1]}${m[3]}`);
  return Number.isNaN(base) ? undefined : base + Number(frac) / 1000;
}
