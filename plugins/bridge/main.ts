// CNI executable: the bridge plugin.
import { runPlugin } from '../cni/skel.js';
import { bridgeEntry } from './plugin.js';

void runPlugin(bridgeEntry);
