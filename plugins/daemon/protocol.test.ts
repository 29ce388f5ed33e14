// The tsnetd wire protocol (./protocol.ts): pure encoding and decoding, no socket, no root.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, FrameReader } from './protocol.js';

describe('tsnetd protocol', () => {
  it('request and response survive a round trip, split into any chunks', () => {
    const stdin = Buffer.from('{"cniVersion":"1.0.0"}\n\u00e9\0binary');
    const frame = encodeRequest({
      type: 'bridge',
      env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'A=1;B=2', TSNET_ROOT: '/x' },
      stdin,
    });
    const r = new FrameReader();
    let body: Buffer | undefined;
    for (let i = 0; i < frame.length; i += 3) body = r.push(frame.subarray(i, i + 3)) ?? body;
    const req = decodeRequest(body!);
    assert.deepEqual(
      { ...req, stdin: req.stdin.toString('latin1') },
      {
        type: 'bridge',
        env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'A=1;B=2', TSNET_ROOT: '/x' },
        stdin: stdin.toString('latin1'),
      },
    );
    const res = encodeResponse({ kind: 'result', exitCode: 7, stdout: Buffer.from('out'), stderr: Buffer.from('err') });
    assert.deepEqual(decodeResponse(res.subarray(4)), {
      kind: 'result',
      exitCode: 7,
      stdout: Buffer.from('out'),
      stderr: Buffer.from('err'),
    });
    assert.deepEqual(decodeResponse(encodeResponse({ kind: 'fallback', reason: 'why' }).subarray(4)), { kind: 'fallback', reason: 'why' });
    assert.throws(() => decodeRequest(Buffer.from('XXXX\0')), /TSN1/);
    assert.throws(() => new FrameReader().push(Buffer.from([0xff, 0xff, 0xff, 0xff])), /exceeds/);
  });
});
