// CNI executable: the container plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { containerEntry } from './container.js';

Netns.defaults = { blocking: true };
void runPlugin(containerEntry.plugin, containerEntry.opts);
