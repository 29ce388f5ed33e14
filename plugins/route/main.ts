// CNI executable: the route plugin (chained after a main plugin).
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { routeEntry } from './plugin.js';

Netns.defaults = { blocking: true };
void runPlugin(routeEntry.plugin, routeEntry.opts);
