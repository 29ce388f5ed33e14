// CNI executable: the bridge plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { bridgePlugin, bridgeSkel } from './bridge.js';

Netns.defaults = { blocking: true };
void runPlugin(bridgePlugin, bridgeSkel);
