// CNI executable: the container plugin.
import { runPlugin } from '../cni/skel.js';
import { containerEntry } from './plugin.js';

void runPlugin(containerEntry);
