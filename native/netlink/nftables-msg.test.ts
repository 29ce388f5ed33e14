// The nf_tables encodings tsnet's firewall rules rest on, byte by byte where a wrong byte would still be
// accepted by the kernel (an interface name, iptables' conntrack match), and a chain dump decoded back. The
// kernel's own reading of them is tested in netns-tests/nftables.test.ts (nft and iptables read them back).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttrMap, attrsSize, encodeAttrs, type Attr } from './attrs.js';
import {
  decodeChain,
  decodeRule,
  encodeBatch,
  ifnameMatch,
  jump,
  masquerade,
  newBaseChain,
  newRule,
  NF_INET_FORWARD,
  NFPROTO_IPV4,
  xtConntrackMatch,
} from './nftables-msg.js';
import { splitMessages } from './message.js';

/** An expression list element → its name and data attributes. */
function parseExpr(e: Attr): { name: string; data: AttrMap } {
  const buf = Buffer.alloc(attrsSize([e]));
  encodeAttrs([e], buf, 0);
  const elem = AttrMap.parse(buf).nested(1)!;
  return { name: elem.str(1)!, data: elem.nested(2)! };
}

describe('nf_tables expressions', () => {
  it('iifname/oifname compare the name zero-padded to IFNAMSIZ', () => {
    const [load, cmp] = ifnameMatch('oif', 'br-abc', true).map(parseExpr);
    assert.equal(load!.name, 'meta');
    assert.equal(load!.data.raw(2)!.readUInt32BE(0), 7, 'NFT_META_OIFNAME');
    assert.equal(cmp!.name, 'cmp');
    assert.equal(cmp!.data.raw(2)!.readUInt32BE(0), 1, 'NFT_CMP_NEQ');
    const value = cmp!.data.nested(3)!.raw(1)!;
    assert.equal(value.length, 16);
    assert.equal(value.toString('utf8', 0, 6), 'br-abc');
    assert.ok(value.subarray(6).every((b) => b === 0));
    assert.throws(() => ifnameMatch('iif', 'x'.repeat(16)), RangeError);
  });

  it("iptables' conntrack match: revision 3, XT_ALIGNed xt_conntrack_mtinfo3 with the state flag and mask", () => {
    const [m] = xtConntrackMatch(['related', 'established', 'dnat']).map(parseExpr);
    assert.equal(m!.name, 'match');
    assert.equal(m!.data.str(1), 'conntrack');
    assert.equal(m!.data.raw(2)!.readUInt32BE(0), 3);
    const info = m!.data.raw(3)!;
    assert.equal(info.length, 168);
    const u16 = (off: number) => new Uint16Array(info.buffer.slice(info.byteOffset + off, info.byteOffset + off + 2))[0]; // host order, as the kernel reads it
    assert.equal(u16(146), 1, 'match_flags: XT_CONNTRACK_STATE');
    assert.equal(u16(148), 0, 'invert_flags');
    assert.equal(u16(150), 2 | 4 | 128, 'state_mask: ESTABLISHED | RELATED | DNAT');
    assert.ok(
      info.subarray(0, 146).every((b) => b === 0),
      'no address, port or expiry match',
    );
  });

  it('jump carries its chain in a verdict', () => {
    const [imm] = [jump('fw-br-x')].map(parseExpr);
    assert.equal(imm!.name, 'immediate');
    assert.equal(imm!.data.raw(1)!.readUInt32BE(0), 0, 'NFT_REG_VERDICT');
    const verdict = imm!.data.nested(2)!.nested(2)!;
    assert.equal(verdict.raw(1)!.readInt32BE(0), -3, 'NFT_JUMP');
    assert.equal(verdict.str(2), 'fw-br-x');
  });
});

describe('nf_tables chains', () => {
  it('a base chain decodes back with its family, hook, priority and policy', () => {
    const op = { ...newBaseChain('filter', 'FORWARD', NF_INET_FORWARD, 0, 'filter'), family: NFPROTO_IPV4 };
    const msgs = splitMessages(encodeBatch([op], 1));
    assert.equal(msgs.length, 3, 'BEGIN, the chain, END');
    const chain = decodeChain(msgs[1]!.payload);
    assert.deepEqual(chain, {
      family: NFPROTO_IPV4,
      table: 'filter',
      name: 'FORWARD',
      hook: NF_INET_FORWARD,
      priority: 0,
      policy: 1,
      type: 'filter',
    });
  });
});

describe('nf_tables rules', () => {
  const ruleMsg = (op: ReturnType<typeof newRule>) => splitMessages(encodeBatch([op], 1))[1]!;

  it("a rule decodes back with the chains its verdicts jump to (dockerd's -j DOCKER-USER)", () => {
    const r = decodeRule(ruleMsg(newRule('filter', 'FORWARD', [jump('DOCKER-USER')], 'x')).payload);
    assert.deepEqual(r.jumps, ['DOCKER-USER']);
    assert.equal(r.comment, 'x');
    assert.deepEqual(decodeRule(ruleMsg(newRule('t', 'c', [masquerade()], 'y')).payload).jumps, []);
  });

  it('insert puts a rule first; after puts it behind the rule of that handle (NLM_F_APPEND + NFTA_RULE_POSITION)', () => {
    const NLM_F_APPEND = 0x800;
    const first = ruleMsg(newRule('t', 'c', [masquerade()], 'y', { insert: true }));
    assert.equal(first.flags & NLM_F_APPEND, 0);
    assert.equal(AttrMap.parse(first.payload, 4).raw(6), undefined, 'no position');
    const after = ruleMsg(newRule('t', 'c', [masquerade()], 'y', { insert: true, after: 42n }));
    assert.equal(after.flags & NLM_F_APPEND, NLM_F_APPEND);
    assert.equal(AttrMap.parse(after.payload, 4).raw(6)!.readBigUInt64BE(0), 42n, 'NFTA_RULE_POSITION');
  });
});
