// A MessagePack reader over bytes already in memory, for the .sqz header and tensor records
// (docs/FORMAT.md: plain msgpack, no extension types). Bins are returned as addresses into the
// same bytes, so tensor payloads are used where they lie, never copied.
import { EXIT_INPUT, fail } from './wasi';

export class Reader {
  constructor(public pos: usize, public end: usize, public what: string) {}

  bad(why: string): void {
    fail(EXIT_INPUT, `${this.what}: ${why}`);
  }

  private u8(): u32 {
    if (this.pos >= this.end) this.bad('truncated msgpack value');
    return load<u8>(this.pos++);
  }

  private be(n: i32): u64 {
    if (this.pos + <usize>n > this.end) this.bad('truncated msgpack value');
    let v: u64 = 0;
    for (let i = 0; i < n; i++) v = (v << 8) | <u64>load<u8>(this.pos++);
    return v;
  }

  peek(): u32 {
    if (this.pos >= this.end) this.bad('truncated msgpack value');
    return load<u8>(this.pos);
  }

  isNil(): bool {
    return this.peek() == 0xc0;
  }

  mapLength(): i32 {
    const t = this.u8();
    if ((t & 0xf0) == 0x80) return t & 15;
    if (t == 0xde) return <i32>this.be(2);
    if (t == 0xdf) return <i32>this.be(4);
    this.bad('expected a msgpack map');
    return 0;
  }

  arrayLength(): i32 {
    const t = this.u8();
    if ((t & 0xf0) == 0x90) return t & 15;
    if (t == 0xdc) return <i32>this.be(2);
    if (t == 0xdd) return <i32>this.be(4);
    this.bad('expected a msgpack array');
    return 0;
  }

  /** A str's bytes: returns the address, `strLen` holds the length. */
  strLen: usize = 0;
  strBytes(): usize {
    const t = this.u8();
    let n: usize = 0;
    if ((t & 0xe0) == 0xa0) n = t & 31;
    else if (t == 0xd9) n = <usize>this.be(1);
    else if (t == 0xda) n = <usize>this.be(2);
    else if (t == 0xdb) n = <usize>this.be(4);
    else this.bad('expected a msgpack string');
    const p = this.pos;
    if (p + n > this.end) this.bad('truncated string');
    this.pos += n;
    this.strLen = n;
    return p;
  }

  str(): string {
    const p = this.strBytes();
    return String.UTF8.decodeUnsafe(p, this.strLen);
  }

  /** A bin's payload: returns the address, `binLen` holds the length. */
  binLen: usize = 0;
  bin(): usize {
    const t = this.u8();
    let n: usize = 0;
    if (t == 0xc4) n = <usize>this.be(1);
    else if (t == 0xc5) n = <usize>this.be(2);
    else if (t == 0xc6) n = <usize>this.be(4);
    else this.bad('expected a msgpack bin');
    const p = this.pos;
    if (p + n > this.end) this.bad('truncated bin');
    this.pos += n;
    this.binLen = n;
    return p;
  }

  bool(): bool {
    const t = this.u8();
    if (t == 0xc2) return false;
    if (t == 0xc3) return true;
    this.bad('expected a msgpack boolean');
    return false;
  }

  /** Any msgpack number as f64. */
  number(): f64 {
    const t = this.u8();
    if (t < 0x80) return <f64>t;
    if (t >= 0xe0) return <f64>(<i8>t);
    switch (t) {
      case 0xcc: return <f64>this.be(1);
      case 0xcd: return <f64>this.be(2);
      case 0xce: return <f64>this.be(4);
      case 0xcf: return <f64>this.be(8);
      case 0xd0: return <f64>(<i8>this.be(1));
      case 0xd1: return <f64>(<i16>this.be(2));
      case 0xd2: return <f64>(<i32>this.be(4));
      case 0xd3: return <f64>(<i64>this.be(8));
      case 0xca: return <f64>reinterpret<f32>(<u32>this.be(4));
      case 0xcb: return reinterpret<f64>(this.be(8));
    }
    this.bad('expected a msgpack number');
    return 0;
  }

  int(): i32 {
    const v = this.number();
    if (v != Math.floor(v) || v < -2147483648 || v > 2147483647) this.bad(`${v} is not an integer`);
    return <i32>v;
  }

  /** Steps over one value of any type. */
  skip(): void {
    const t = this.peek();
    if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
      const n = this.mapLength();
      for (let i = 0; i < 2 * n; i++) this.skip();
    } else if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
      const n = this.arrayLength();
      for (let i = 0; i < n; i++) this.skip();
    } else if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) this.strBytes();
    else if (t == 0xc4 || t == 0xc5 || t == 0xc6) this.bin();
    else if (t == 0xc0) this.pos++;
    else if (t == 0xc2 || t == 0xc3) this.pos++;
    else this.number();
  }
}
