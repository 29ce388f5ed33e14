// CNI executable: the loopback plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { loopbackPlugin, loopbackSkel } from './loopback.js';

Netns.defaults = { blocking: true };
void runPlugin(loopbackPlugin, loopbackSkel);
