/** In-flight request slots per caller identity: beyond the limit a request gets 429 at once. */
export class CallerSlots {
  private readonly inflight = new Map<string, number>();
  constructor(readonly limit: number) {}

  /** Takes `n` slots of `who`, or none (false) when that would pass the limit. */
  tryAcquire(who: string, n: number): boolean {
    const current = this.inflight.get(who) ?? 0;
    if (current + n > this.limit) return false;
    this.inflight.set(who, current + n);
    return true;
  }

  release(who: string, n: number): void {
    const left = (this.inflight.get(who) ?? 0) - n;
    if (left > 0) this.inflight.set(who, left);
    else this.inflight.delete(who);
  }
}
