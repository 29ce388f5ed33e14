// CNI executable: the tsnet-dns plugin. The same file is the resolver it starts (`tsnet-dns serve DIR` and
// `serve-worker DIR`, see server.ts), so a copied plugin directory carries its resolver with it.
import { runPlugin } from '../cni/skel.js';
import { setServerExecutable } from './control.js';
import { tsnetDnsEntry } from './plugin.js';

const [mode, dir] = process.argv.slice(2);
if ((mode === 'serve' || mode === 'serve-worker') && dir) {
  const self = process.argv[1]!;
  void import('./server.js').then((s) => (mode === 'serve' ? s.runSupervisor(dir, self) : s.runWorker(dir, self)));
} else {
  setServerExecutable(process.argv[1]!);
  void runPlugin(tsnetDnsEntry);
}
