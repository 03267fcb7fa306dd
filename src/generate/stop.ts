// Stop sequences over streamed text. Pieces arrive token by token and a stop string may be split
// across several of them, so text that could still become the start of a stop string is held
// back until the next piece settles it. The text let out never contains a stop string, and
// everything before the first one is let out (by push or, at the end, by flush).

export class StopMatcher {
  private pending = '';
  /** The stop string found, once one is. */
  matched: string | undefined;

  constructor(private readonly stops: readonly string[]) {
    for (const s of stops) if (typeof s !== 'string' || s === '') throw new RangeError('stop sequences must be non-empty strings');
  }

  /** Adds a piece; returns the text that is now safe to let out. After a match, matched is set and the rest is dropped. */
  push(piece: string): string {
    if (this.matched !== undefined) return '';
    const text = this.pending + piece;
    const { at, stop } = this.firstMatch(text);
    // a longer stop string that starts before this match may still complete: wait for it
    const hold = text.length - this.heldBack(text);
    if (at >= 0 && at < hold) return this.cut(text, at, stop!);
    this.pending = text.slice(hold);
    return text.slice(0, hold);
  }

  /** The end of the text: what is still held back, up to a stop string if it holds one. */
  flush(): string {
    if (this.matched !== undefined) return '';
    const { at, stop } = this.firstMatch(this.pending);
    if (at >= 0) return this.cut(this.pending, at, stop!);
    const rest = this.pending;
    this.pending = '';
    return rest;
  }

  private cut(text: string, at: number, stop: string): string {
    this.matched = stop;
    this.pending = '';
    return text.slice(0, at);
  }

  /** The earliest complete stop string in text (the first listed on a tie), or at -1. */
  private firstMatch(text: string): { at: number; stop?: string } {
    let best: { at: number; stop?: string } = { at: -1 };
    for (const s of this.stops) {
      const at = text.indexOf(s);
      if (at >= 0 && (best.at < 0 || at < best.at)) best = { at, stop: s };
    }
    return best;
  }

  /** Length of the longest suffix of text that is a proper prefix of some stop string. */
  private heldBack(text: string): number {
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > keep; n--) {
        if (text.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  }
}
