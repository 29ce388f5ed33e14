// nlmsghdr framing: build requests, split replies, decode NLMSG_ERROR (errno + extended ACK text).
import { Attr, AttrMap, attrsSize, encodeAttrs, NetlinkDecodeError } from './attrs.js';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR, NLMSGERR_ATTR_MSG } from './constants.js';

export const NLMSG_HDRLEN = 16;

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Bytes after the 16-byte header. */
  payload: Buffer;
}

/** Encodes one request: header + fixed family header + attributes. */
export function encodeMessage(type: number, flags: number, seq: number, fixed: Buffer, attrs: Attr[] = []): Buffer {
  const len = NLMSG_HDRLEN + fixed.length + attrsSize(attrs);
  const buf = Buffer.alloc(len);
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt32LE(0, 12);
  fixed.copy(buf, NLMSG_HDRLEN);
  encodeAttrs(attrs, buf, NLMSG_HDRLEN + fixed.length);
  return buf;
}

/** Splits one datagram into messages. Throws NetlinkDecodeError on truncation. */
export function splitMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length)
      throw new NetlinkDecodeError(`message length ${len} at offset ${off} in a ${buf.length}-byte datagram`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += (len + 3) & ~3;
  }
  if (off < buf.length && buf.length - off >= 4) throw new NetlinkDecodeError(`${buf.length - off} trailing bytes after the last message`);
  return out;
}

export interface NlError {
  /** Positive errno; 0 is an ACK. */
  errno: number;
  /** The kernel's extended ACK message, when it gave one. */
  extack?: string;
  /** Type of the request the error answers. */
  requestType: number;
}

/** Decodes an NLMSG_ERROR payload: int error, the original header (and payload unless capped), then TLVs. */
export function decodeError(msg: NlMsg): NlError {
  if (msg.type !== NLMSG_ERROR) throw new NetlinkDecodeError(`expected NLMSG_ERROR, got type ${msg.type}`);
  const p = msg.payload;
  if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError(`NLMSG_ERROR payload of ${p.length} bytes`);
  const errno = -p.readInt32LE(0);
  const requestType = p.readUInt16LE(4 + 4);
  const err: NlError = { errno, requestType };
  if (msg.flags & NLM_F_ACK_TLVS) {
    const origLen = p.readUInt32LE(4);
    const tlvStart = 4 + (msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : (origLen + 3) & ~3);
    if (tlvStart <= p.length) {
      const tlvs = AttrMap.parse(p, tlvStart);
      const text = tlvs.str(NLMSGERR_ATTR_MSG);
      if (text) err.extack = text;
    }
  }
  return err;
}
