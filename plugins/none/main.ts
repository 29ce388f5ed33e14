// CNI executable: the none plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { nonePlugin, noneSkel } from './none.js';

Netns.defaults = { blocking: true };
void runPlugin(nonePlugin, noneSkel);
