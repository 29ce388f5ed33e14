// CNI executable: the loopback plugin.
import { runPlugin } from '../cni/skel.js';
import { loopbackEntry } from './plugin.js';

void runPlugin(loopbackEntry);
