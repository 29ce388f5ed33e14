// CNI executable: the none plugin.
import { runPlugin } from '../cni/skel.js';
import { noneEntry } from './plugin.js';

void runPlugin(noneEntry);
