// `tsnet graph`: the host's networking as a picture — bridges, NICs, veth pairs, containers and namespaces,
// their addresses and gateways, published ports and attachments — read from the kernel (netlink in each
// namespace), the attachment registry and the engine's containers. Text (a tree, for terminals), Graphviz
// dot, or SVG rendered by a WebAssembly build of Graphviz (@viz-js/viz), so nothing needs installing.
import { readdirSync } from 'node:fs';
import { Netns } from '../../native/netns.js';
import type { Link } from '../../native/netlink/link.js';
import { NETNS_RUN_DIR } from '../../common/paths.js';
import { readAttachments, type AttachmentRecord } from '../../plugins/attach/registry.js';
import { listContainers } from '../containers/store.js';
import { netnsOf } from '../network/netns.js';
import { hostFamily, type PortMapping } from '../network/ports.js';
import { createRequire } from 'node:module';

export interface GraphIface {
  name: string;
  index: number;
  kind: string;
  up: boolean;
  mac?: string;
  master?: string;
  addresses: string[];
  /** For a veth: the peer's index (in its namespace). */
  peerIndex?: number;
  peerElsewhere: boolean;
  /** For a veth whose peer is elsewhere: the id this namespace gives the peer's (IFLA_LINK_NETNSID). */
  peerNsid?: number;
}

export interface GraphNs {
  /** "host", a netns name, or "container NAME". */
  label: string;
  kind: 'host' | 'netns' | 'container';
  id: string;
  ifaces: GraphIface[];
  gateways: string[];
  ports: string[];
}

export interface GraphModel {
  host: GraphNs;
  spaces: GraphNs[];
  /** veth pairs: [ns id, ifindex] ↔ [ns id, ifindex]. */
  pairs: { a: [string, number]; b: [string, number] }[];
  attachments: AttachmentRecord[];
}

async function readNs(ns: Netns, label: string, kind: GraphNs['kind']): Promise<GraphNs> {
  const links = await ns.rtnl.links();
  const addrs = await ns.rtnl.addresses();
  const routes = await ns.rtnl.routes({ table: 'all' }).catch(() => []);
  const byIndex = new Map(links.map((l: Link) => [l.index, l]));
  const ifaces = links
    .filter((l) => l.name !== 'lo')
    .map((l) => ({
      name: l.name,
      index: l.index,
      kind: l.kind ?? (l.mac ? 'nic' : 'device'),
      up: l.up,
      ...(l.mac ? { mac: l.mac } : {}),
      ...(l.masterIndex ? { master: byIndex.get(l.masterIndex)?.name ?? `#${l.masterIndex}` } : {}),
      addresses: addrs.filter((a) => a.index === l.index && a.scope === 0).map((a) => a.cidr),
      ...(l.kind === 'veth' && l.linkIndex ? { peerIndex: l.linkIndex } : {}),
      peerElsewhere: l.linkNetnsId !== undefined,
      ...(l.linkNetnsId !== undefined ? { peerNsid: l.linkNetnsId } : {}),
    }));
  const gateways = routes
    .filter((r) => r.dst === 'default' && r.gateway)
    .map((r) => `${r.gateway} dev ${byIndex.get(r.oif ?? -1)?.name ?? '?'}`);
  return { label, kind, id: ns.id(), ifaces, gateways, ports: [] };
}

/** A published port as the picture shows it: [HOST-IP:]PORT→CONTAINER-PORT/PROTO, an IPv6 host IP in brackets. */
export function portLabel(p: PortMapping): string {
  const ip = p.hostIp ? (hostFamily(p) === 6 ? `[${p.hostIp}]:` : `${p.hostIp}:`) : '';
  return `${ip}${p.hostPort}→${p.containerPort}/${p.protocol}`;
}

/** Reads the picture's model from the kernel and tsnet's state. */
export async function collectGraph(): Promise<GraphModel> {
  const hostNs = Netns.current();
  const seen = new Set<string>();
  // every namespace read stays open until the veth pairs are matched (by the ids they give each other)
  const handles = new Map<string, Netns>([[hostNs.id(), hostNs]]);
  try {
    const host = await readNs(hostNs, 'host', 'host');
    seen.add(host.id);
    const spaces: GraphNs[] = [];
    const visit = async (path: string, label: string, kind: GraphNs['kind'], ports: string[] = []) => {
      let ns: Netns;
      try {
        ns = Netns.open(path);
      } catch {
        return;
      }
      if (seen.has(ns.id())) return ns.close();
      seen.add(ns.id());
      handles.set(ns.id(), ns);
      spaces.push({ ...(await readNs(ns, label, kind)), ports });
    };
    for (const c of listContainers()) {
      if (c.state.status !== 'running' || !c.state.pid) continue;
      const path = netnsOf(c.state.network, c.state.pid);
      if (path === 'host') continue;
      const ports = c.config.ports.map(portLabel);
      await visit(path, `container ${c.config.name}`, 'container', ports);
    }
    let names: string[] = [];
    try {
      names = readdirSync(NETNS_RUN_DIR).sort();
    } catch {
      /* no named namespaces */
    }
    for (const n of names) await visit(`${NETNS_RUN_DIR}/${n}`, n, 'netns');
    // veth pairs: each end's IFLA_LINK is the other's index.
    const pairs: GraphModel['pairs'] = [];
    const all = [host, ...spaces];
    for (const a of all)
      for (const ia of a.ifaces) {
        if (ia.peerIndex === undefined) continue;
        if (!ia.peerElsewhere) {
          if (ia.index < ia.peerIndex && a.ifaces.some((x) => x.index === ia.peerIndex))
            pairs.push({ a: [a.id, ia.index], b: [a.id, ia.peerIndex] });
          continue;
        }
        // The peer is in another namespace: one whose veth points back (index ↔ peer index both ways) and that is
        // the namespace a's IFLA_LINK_NETNSID names — indexes alone repeat across namespaces.
        for (const b of all) {
          if (b === a || a.id > b.id) continue;
          if (!b.ifaces.some((x) => x.index === ia.peerIndex && x.peerIndex === ia.index && x.peerElsewhere)) continue;
          if ((await handles.get(a.id)!.rtnl.nsidOf(handles.get(b.id)!.fd())) !== ia.peerNsid) continue;
          pairs.push({ a: [a.id, ia.index], b: [b.id, ia.peerIndex] });
          break;
        }
      }
    return { host, spaces, pairs, attachments: readAttachments() };
  } finally {
    for (const ns of handles.values()) ns.close();
  }
}

/** A dot label from lines: each line escaped, joined with dot's line break. */
const lbl = (lines: string[]) => lines.map((s) => s.replace(/[\\"]/g, (c) => `\\${c}`)).join('\\n');
const nodeId = (nsId: string, index: number) => `n${nsId.replace(/\D/g, '')}_${index}`;

function ifaceLabel(i: GraphIface): string {
  return lbl([`${i.name} (${i.kind}${i.up ? '' : ', down'})`, ...i.addresses, ...(i.mac ? [i.mac] : [])]);
}

/** Graphviz dot: a cluster per namespace, bridges as boxes, veth pairs and bridge ports as edges. */
export function toDot(m: GraphModel): string {
  const out: string[] = [
    'digraph tsnet {',
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, compound=true, nodesep=0.3, ranksep=0.9, label="tsnet graph", labelloc=t, pad=0.4];',
    '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#ffffff"];',
    '  edge [fontname="Helvetica", fontsize=9, arrowhead=none];',
  ];
  const colors: Record<string, string> = { bridge: '#cfe2ff', veth: '#e2f0d9', nic: '#fff2cc', macvlan: '#fde2e4', vxlan: '#e8dff5' };
  const attached = new Set(m.attachments.map((a) => `${a.netns}|${a.ifname}`));
  for (const [k, ns] of [m.host, ...m.spaces].entries()) {
    const title = lbl([ns.label, ...ns.gateways.map((g) => `gateway ${g}`), ...ns.ports.map((p) => `port ${p}`)]);
    out.push(`  subgraph cluster_${k} {`);
    out.push(
      `    label="${title}"; style="rounded,filled"; fillcolor="${ns.kind === 'host' ? '#f5f5f5' : ns.kind === 'container' ? '#eef6ff' : '#fafafa'}"; color="#888888";`,
    );
    if (!ns.ifaces.length) out.push(`    ${nodeId(ns.id, 0)} [label="(no interface but lo)", shape=plaintext, style=""];`);
    for (const i of ns.ifaces) {
      const extra = attached.has(`${ns.id}|${i.name}`) ? ', penwidth=2, color="#c00000"' : '';
      out.push(
        `    ${nodeId(ns.id, i.index)} [label="${ifaceLabel(i)}", fillcolor="${colors[i.kind] ?? '#ffffff'}"${i.kind === 'bridge' ? ', shape=box3d' : ''}${extra}];`,
      );
    }
    out.push('  }');
    for (const i of ns.ifaces) {
      if (!i.master) continue;
      const br = ns.ifaces.find((x) => x.name === i.master);
      if (br) out.push(`  ${nodeId(ns.id, br.index)} -> ${nodeId(ns.id, i.index)} [label="port", color="#1f4e9d"];`);
    }
  }
  for (const p of m.pairs) out.push(`  ${nodeId(...p.a)} -> ${nodeId(...p.b)} [label="veth", style=bold, color="#2e7d32"];`);
  for (const a of m.attachments) {
    if (a.mode !== 'macvlan' || !a.parent) continue;
    const parent = m.host.ifaces.find((i) => i.name === a.parent);
    const ns = m.spaces.find((s) => s.id === a.netns);
    const child = ns?.ifaces.find((i) => i.name === a.ifname);
    if (parent && ns && child)
      out.push(`  ${nodeId(m.host.id, parent.index)} -> ${nodeId(ns.id, child.index)} [label="macvlan", style=dashed];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** A tree for terminals: each namespace, its interfaces, what they connect to. */
export function toText(m: GraphModel): string {
  const lines: string[] = [];
  const where = new Map<string, string>();
  for (const ns of [m.host, ...m.spaces]) for (const i of ns.ifaces) where.set(`${ns.id}|${i.index}`, `${ns.label}:${i.name}`);
  const peerOf = (nsId: string, idx: number) => {
    for (const p of m.pairs) {
      if (p.a[0] === nsId && p.a[1] === idx) return where.get(`${p.b[0]}|${p.b[1]}`);
      if (p.b[0] === nsId && p.b[1] === idx) return where.get(`${p.a[0]}|${p.a[1]}`);
    }
    return undefined;
  };
  const attachments = new Map(m.attachments.map((a) => [`${a.netns}|${a.ifname}`, a]));
  for (const ns of [m.host, ...m.spaces]) {
    lines.push(ns.label);
    const extras = [...ns.gateways.map((g) => `gateway ${g}`), ...ns.ports.map((p) => `published ${p}`)];
    const top = ns.ifaces.filter((i) => !i.master || !ns.ifaces.some((b) => b.name === i.master));
    const describe = (i: GraphIface) => {
      const peer = peerOf(ns.id, i.index);
      const att = attachments.get(`${ns.id}|${i.name}`);
      return [
        `${i.name} [${i.kind}${i.up ? '' : ', down'}]`,
        i.addresses.join(' '),
        peer && `⇄ ${peer}`,
        att && `(attached${att.dhcp ? `, dhcp via ${att.dhcp.client}` : ''})`,
      ]
        .filter(Boolean)
        .join(' ');
    };
    const items: string[][] = [];
    for (const i of top) {
      const ports = ns.ifaces.filter((p) => p.master === i.name);
      items.push([describe(i), ...ports.map((p) => describe(p))]);
    }
    for (const e of extras) items.push([e]);
    items.forEach((it, k) => {
      const last = k === items.length - 1;
      lines.push(`${last ? '└─' : '├─'} ${it[0]}`);
      it.slice(1).forEach((p, j) => lines.push(`${last ? '   ' : '│  '}${j === it.length - 2 ? '└─' : '├─'} ${p}`));
    });
    if (!items.length) lines.push('└─ (no interface but lo)');
  }
  return `${lines.join('\n')}\n`;
}

export async function toSvg(dot: string): Promise<string> {
  // required, not import()ed: the CLI runs as CommonJS through a code cache (launch.ts), where import() has no loader
  const { instance } = createRequire(import.meta.url)('@viz-js/viz') as typeof import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(dot, { format: 'svg', engine: 'dot' });
}
