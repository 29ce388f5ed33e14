// CNI executable: the host plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { hostEntry } from './host.js';

Netns.defaults = { blocking: true };
void runPlugin(hostEntry.plugin, hostEntry.opts);
