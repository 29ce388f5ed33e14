// Netlink attributes (struct nlattr / rtattr): 2-byte length, 2-byte type, payload, padded to 4 bytes.
// An attribute is either raw bytes or a list of nested attributes; builders and readers for common payloads.
import { TsnetError } from '../../common/errors.js';
import { NLA_F_NESTED, NLA_TYPE_MASK } from './constants.js';

export const align4 = (n: number): number => (n + 3) & ~3;

export interface Attr {
  type: number;
  /** Raw payload, or nested attributes (encoded with NLA_F_NESTED). */
  value: Buffer | Attr[];
  /** Set NLA_F_NESTED on a nested attribute (the kernel requires it for some families, tolerates it for rtnl). */
  nestedFlag?: boolean;
}

export function attrSize(a: Attr): number {
  const payload = Array.isArray(a.value) ? a.value.reduce((s, c) => s + align4(attrSize(c)), 0) : a.value.length;
  return 4 + payload;
}

/** Encodes attributes into buf at offset; returns the new offset (aligned). */
export function encodeAttrs(attrs: Attr[], buf: Buffer, offset: number): number {
  for (const a of attrs) {
    const len = attrSize(a);
    if (len > 0xffff) throw new RangeError(`netlink attribute ${a.type} too long (${len} bytes)`);
    buf.writeUInt16LE(len, offset);
    buf.writeUInt16LE(a.type | (Array.isArray(a.value) && a.nestedFlag ? NLA_F_NESTED : 0), offset + 2);
    if (Array.isArray(a.value)) encodeAttrs(a.value, buf, offset + 4);
    else a.value.copy(buf, offset + 4);
    offset += align4(len);
  }
  return offset;
}

export function attrsSize(attrs: Attr[]): number {
  return attrs.reduce((s, a) => s + align4(attrSize(a)), 0);
}

/** Malformed data from the kernel (or a corrupt buffer): never a crash, always this error. */
export class NetlinkDecodeError extends TsnetError {
  constructor(msg: string) {
    super('malformed netlink data', msg);
    this.name = 'NetlinkDecodeError';
  }
}

/** Parsed attributes: type → payload (last one wins; `all` keeps repeats in order). */
export class AttrMap {
  readonly all: { type: number; value: Buffer }[] = [];
  private readonly byType = new Map<number, Buffer>();

  static parse(buf: Buffer, offset = 0, end = buf.length): AttrMap {
    const m = new AttrMap();
    while (offset + 4 <= end) {
      const len = buf.readUInt16LE(offset);
      const type = buf.readUInt16LE(offset + 2) & NLA_TYPE_MASK;
      if (len < 4 || offset + len > end)
        throw new NetlinkDecodeError(`attribute ${type} length ${len} at offset ${offset} overruns ${end}`);
      const value = buf.subarray(offset + 4, offset + len);
      m.all.push({ type, value });
      m.byType.set(type, value);
      offset += align4(len);
    }
    return m;
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }
  raw(type: number): Buffer | undefined {
    return this.byType.get(type);
  }
  u8(type: number): number | undefined {
    const b = this.need(type, 1);
    return b?.readUInt8(0);
  }
  u16(type: number): number | undefined {
    return this.need(type, 2)?.readUInt16LE(0);
  }
  u16be(type: number): number | undefined {
    return this.need(type, 2)?.readUInt16BE(0);
  }
  u32(type: number): number | undefined {
    return this.need(type, 4)?.readUInt32LE(0);
  }
  s32(type: number): number | undefined {
    return this.need(type, 4)?.readInt32LE(0);
  }
  str(type: number): string | undefined {
    const b = this.byType.get(type);
    if (!b) return undefined;
    const nul = b.indexOf(0);
    return b.toString('utf8', 0, nul < 0 ? b.length : nul);
  }
  nested(type: number): AttrMap | undefined {
    const b = this.byType.get(type);
    return b ? AttrMap.parse(b) : undefined;
  }
  private need(type: number, size: number): Buffer | undefined {
    const b = this.byType.get(type);
    if (b && b.length < size) throw new NetlinkDecodeError(`attribute ${type} has ${b.length} bytes, expected ${size}`);
    return b;
  }
}

export const u8 = (type: number, v: number): Attr => ({ type, value: Buffer.from([v & 0xff]) });
export function u16(type: number, v: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return { type, value: b };
}
export function u16be(type: number, v: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return { type, value: b };
}
export function u32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return { type, value: b };
}
export function s32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return { type, value: b };
}
/** NUL-terminated string. */
export const str = (type: number, v: string): Attr => ({ type, value: Buffer.concat([Buffer.from(v, 'utf8'), Buffer.from([0])]) });
export const bytes = (type: number, v: Buffer): Attr => ({ type, value: v });
export const nest = (type: number, children: Attr[], nestedFlag = false): Attr => ({ type, value: children, nestedFlag });
