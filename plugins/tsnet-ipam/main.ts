// CNI executable: the tsnet-ipam plugin.
import { runPlugin } from '../cni/skel.js';
import { tsnetIpamEntry } from './plugin.js';

void runPlugin(tsnetIpamEntry);
