// CNI executable: the loopback plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { loopbackPlugin } from './loopback.js';

Netns.defaults = { blocking: true };
void runPlugin(loopbackPlugin, { name: 'loopback', about: 'CNI loopback plugin (tsnet)' });
