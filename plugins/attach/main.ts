// CNI executable: the attach plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { attachEntry } from './plugin.js';

Netns.defaults = { blocking: true };
void runPlugin(attachEntry.plugin, attachEntry.opts);
