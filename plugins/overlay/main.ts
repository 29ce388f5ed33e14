// CNI executable: the overlay plugin.
import { runPlugin } from '../cni/skel.js';
import { overlayEntry } from './plugin.js';

void runPlugin(overlayEntry);
