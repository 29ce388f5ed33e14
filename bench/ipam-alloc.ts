// Benchmark (not a test): fill a /16 in-process with the allocator and show that the cost per allocation
// does not grow with the number already allocated. Run: node dist/bench/ipam-alloc.js
import { Allocator } from '../ipam/allocator.js';
import { canonicalizeRangeSet, capacity } from '../ipam/ranges.js';
import { IpamState } from '../ipam/state.js';

const set = canonicalizeRangeSet([{ subnet: '10.200.0.0/16' }]);
const state = new IpamState();
const alloc = new Allocator(set, state, '0', 'bench');
const total = Number(capacity(set)); // 65,534 usable addresses, one of them the gateway → 65,533 to hand out
const stamps: number[] = [];
const t0 = process.hrtime.bigint();
for (let i = 0; i < total; i++) {
  alloc.get({ containerID: `c${i}`, ifname: 'eth0' });
  if (i % 1000 === 0) state.pending.length = 0; // the journal ops a store would flush; keep memory flat
  stamps.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const firstK = stamps[999]!;
const lastK = stamps[total - 1]! - stamps[total - 1001]!;
console.log(`allocated ${state.size} addresses of 10.200.0.0/16 (65,534 usable, gateway 10.200.0.1 reserved) in ${stamps[total - 1]!.toFixed(1)} ms`);
console.log(`first 1,000: ${firstK.toFixed(2)} ms   last 1,000: ${lastK.toFixed(2)} ms   ratio last/first: ${(lastK / firstK).toFixed(2)}`);
let full = false;
try {
  alloc.get({ containerID: 'one-too-many', ifname: 'eth0' });
} catch {
  full = true;
}
console.log(`one more → ${full ? 'exhausted error, as expected' : 'UNEXPECTED success'}`);
