// CNI executable: tsnet's IPAM plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { tsnetIpamPlugin, tsnetIpamSkel } from './plugin.js';

Netns.defaults = { blocking: true };
void runPlugin(tsnetIpamPlugin, tsnetIpamSkel);
