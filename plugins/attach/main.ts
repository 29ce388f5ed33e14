// CNI executable: the attach plugin.
import { runPlugin } from '../cni/skel.js';
import { attachEntry } from './plugin.js';

void runPlugin(attachEntry);
