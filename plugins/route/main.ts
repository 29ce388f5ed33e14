// CNI executable: the route plugin.
import { runPlugin } from '../cni/skel.js';
import { routeEntry } from './plugin.js';

void runPlugin(routeEntry);
