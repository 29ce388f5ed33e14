// CNI executable: the host plugin.
import { runPlugin } from '../cni/skel.js';
import { hostEntry } from './plugin.js';

void runPlugin(hostEntry);
