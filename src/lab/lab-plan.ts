// What `tunpf lab` builds, as data: the namespaces, the links between them,
// the addresses, and the HA file of each router. Nothing here runs a
// command; lab-runtime.ts does. Keeping it as data lets a unit test check
// that every command stays inside the lab's own namespaces.
//
//   client ── lan switch ──┬── r1 ──┬── wan switch ── server
//                          └── r2 ──┘
//                       sync link r1 ── r2
//
// The switches are bridges, each in a namespace of its own, so the host
// sees none of it. The addresses come from the documentation ranges:
// the office LAN 192.168.10.0/24 and 2001:db8:10::/64, "the internet"
// 203.0.113.0/24 and 2001:db8:20::/64. The office's IPv4 network is
// private: the server has no IPv4 route to it, and the routers translate
// it to the wan CARP address (rules/lab.conf); IPv6 is routed.

export const LAB_PREFIX = 'tpflab-';
/** Logs, the HA files, the state file; tmpfs, so a reboot clears it with the namespaces. */
export const LAB_DIR = '/run/tunpf-lab';

export const NODES = ['client', 'lan-switch', 'r1', 'r2', 'wan-switch', 'server'] as const;
export type LabNode = (typeof NODES)[number];
export const ROUTERS = ['r1', 'r2'] as const;
export type RouterName = (typeof ROUTERS)[number];

export const netnsOf = (node: LabNode): string => `${LAB_PREFIX}${node}`;

export const LAB = {
  lan: {
    net4: '192.168.10.0/24',
    net6: '2001:db8:10::/64',
    vip4: '192.168.10.1',
    vip6: '2001:db8:10::1',
    bits4: 24,
    bits6: 64,
  },
  wan: {
    net4: '203.0.113.0/24',
    net6: '2001:db8:20::/64',
    vip4: '203.0.113.1',
    vip6: '2001:db8:20::1',
    bits4: 24,
    bits6: 64,
  },
  client: { v4: '192.168.10.10', v6: '2001:db8:10::10' },
  server: { v4: '203.0.113.10', v6: '2001:db8:20::10' },
  /** The last group of each router's own addresses on lan and wan. */
  routerHost: { r1: 2, r2: 3 } as Record<RouterName, number>,
  sync: { r1: '10.99.0.1', r2: '10.99.0.2', bits: 30 } as Record<RouterName, string> & { bits: number },
  /** The echo service (TCP and UDP) and the pretend shell of the interactive session, on the server. */
  ports: { echo: 7, session: 22 },
} as const;

export function routerAddress(r: RouterName, side: 'lan' | 'wan', af: 4 | 6): string {
  const n = LAB.routerHost[r];
  const s = LAB[side];
  return af === 4 ? s.net4.replace(/\.0\/\d+$/, `.${n}`) : s.net6.replace(/::\/\d+$/, `::${n}`);
}

/** CARP timing: advbase and each router's advskew (r1 lower: r1 is the preferred master). */
export interface LabTiming {
  advbase: number;
  advskew: Record<RouterName, number>;
}

/** advbase 1 as most real setups; fast: sub-second (the fastest the spec allows with a margin). */
export const TIMINGS: Record<'normal' | 'fast', LabTiming> = {
  normal: { advbase: 1, advskew: { r1: 0, r2: 100 } },
  fast: { advbase: 0, advskew: { r1: 50, r2: 100 } },
};

/** Seconds between advertisements (OpenBSD: advbase + advskew/256). */
export const advertInterval = (t: LabTiming, r: RouterName): number => t.advbase + t.advskew[r] / 256;
/** A backup takes over after hearing nothing for three of its own intervals. */
export const masterDown = (t: LabTiming, r: RouterName): number => 3 * advertInterval(t, r);

export const CARP_GROUPS = [
  { name: 'carp-lan', carpdev: 'lan', vhid: 1, side: 'lan' },
  { name: 'carp-wan', carpdev: 'wan', vhid: 2, side: 'wan' },
] as const;

const peerOf = (r: RouterName): RouterName => (r === 'r1' ? 'r2' : 'r1');

/** The HA file of a router: CARP on both sides, pfsync over the sync link. */
export function labHaConfig(r: RouterName, t: LabTiming): string {
  const skew = t.advskew[r];
  const fast = TIMINGS.fast.advskew[r];
  const lines = [
    `# ${r}'s HA file in \`tunpf lab\`: its CARP groups and pfsync, beside the ruleset rules/lab.conf.`,
    `# The lab writes it to ${LAB_DIR}/${r}.ha (with --fast: advbase ${TIMINGS.fast.advbase}, advskew ${fast}).`,
    `# Check it:  tunpf check -v --ha rules/lab-${r}.ha`,
    '#',
    r === 'r1'
      ? '# r1 has the lower advskew: it advertises more often, so it is the preferred master.'
      : '# r2 has the higher advskew: it advertises less often, so it stays backup while r1 lives.',
    '# Advertisements go out every advbase + advskew/256 seconds; a backup that hears none',
    '# for three of its own intervals takes over. preempt: a router that advertises faster',
    '# than the master takes the group from it (so r1 takes it back when it returns).',
    '# The addresses live on a macvlan named after the group, with the virtual MAC',
    '# 00:00:5e:00:01:<vhid>, so the switch and the hosts need not learn a new MAC at a takeover.',
    '',
  ];
  for (const g of CARP_GROUPS) {
    const s = LAB[g.side];
    lines.push(
      `# The ${g.side} side's gateway: the hosts there route through these addresses.`,
      `carp ${g.name} {`,
      `\tcarpdev ${g.carpdev} vhid ${g.vhid} advbase ${t.advbase} advskew ${skew} preempt`,
      `\tpass "lab-${g.side}-secret"`,
      `\taddress ${s.vip4}/${s.bits4}`,
      `\taddress ${s.vip6}/${s.bits6}`,
      '}',
      '',
    );
  }
  lines.push(
    '# The states go to the other router over a link of their own: pfsync is not',
    '# authenticated, so it must not travel where anybody else can talk.',
    `pfsync { syncdev sync syncpeer ${LAB.sync[peerOf(r)]} }`,
    '',
  );
  return lines.join('\n');
}

/** One `ip` command; the first words name the namespace it acts in. */
export type IpCommand = string[];

const ip = (ns: string, ...args: string[]): IpCommand => ['ip', '-n', ns, ...args];
const sysctl = (ns: string, key: string, value: string): IpCommand => [
  'ip',
  'netns',
  'exec',
  ns,
  'sh',
  '-c',
  `echo ${value} > /proc/sys/${key.replace(/\./g, '/')}`,
];

/** A veth with one end `a` in namespace `nsA` and the other `b` in `nsB`. */
const veth = (nsA: string, a: string, nsB: string, b: string): IpCommand =>
  ip(nsA, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB);

/** Every command that builds the lab, in order. The namespaces come first (`ip netns add`). */
export function buildCommands(): IpCommand[] {
  const ns = Object.fromEntries(NODES.map((n) => [n, netnsOf(n)])) as Record<LabNode, string>;
  const out: IpCommand[] = NODES.map((n) => ['ip', 'netns', 'add', ns[n]]);
  for (const n of NODES) out.push(ip(ns[n], 'link', 'set', 'lo', 'up'));
  for (const sw of ['lan-switch', 'wan-switch'] as const) {
    // no multicast snooping: CARP and pfsync multicast must reach every port; no STP delay
    out.push(
      ip(ns[sw], 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0'),
      ip(ns[sw], 'link', 'set', 'br0', 'up'),
    );
  }
  // switch ports are named after what is plugged in
  const ports: [LabNode, string, LabNode, string][] = [
    ['lan-switch', 'client', 'client', 'eth0'],
    ['lan-switch', 'r1', 'r1', 'lan'],
    ['lan-switch', 'r2', 'r2', 'lan'],
    ['wan-switch', 'server', 'server', 'eth0'],
    ['wan-switch', 'r1', 'r1', 'wan'],
    ['wan-switch', 'r2', 'r2', 'wan'],
  ];
  for (const [sw, port, node, dev] of ports)
    out.push(veth(ns[sw], port, ns[node], dev), ip(ns[sw], 'link', 'set', port, 'master', 'br0', 'up'));
  out.push(veth(ns.r1, 'sync', ns.r2, 'sync'));

  for (const [node, side] of [
    ['client', 'lan'],
    ['server', 'wan'],
  ] as const) {
    const h = LAB[node];
    const s = LAB[side];
    out.push(
      ip(ns[node], 'addr', 'add', `${h.v4}/${s.bits4}`, 'dev', 'eth0'),
      ip(ns[node], '-6', 'addr', 'add', `${h.v6}/${s.bits6}`, 'dev', 'eth0', 'nodad'),
      ip(ns[node], 'link', 'set', 'eth0', 'up'),
      ip(ns[node], '-6', 'route', 'add', 'default', 'via', s.vip6),
    );
    // the office's IPv4 network is private: "the internet" has no route to it, and sees the gateway's address (NAT)
    if (node === 'client') out.push(ip(ns[node], 'route', 'add', 'default', 'via', s.vip4));
  }
  for (const r of ROUTERS) {
    for (const side of ['lan', 'wan'] as const) {
      // Linux drops a link's IPv6 addresses when it goes down; a router wants them back with the link
      out.push(
        sysctl(ns[r], `net.ipv6.conf.${side}.keep_addr_on_down`, '1'),
        ip(ns[r], 'addr', 'add', `${routerAddress(r, side, 4)}/${LAB[side].bits4}`, 'dev', side),
        ip(ns[r], '-6', 'addr', 'add', `${routerAddress(r, side, 6)}/${LAB[side].bits6}`, 'dev', side, 'nodad'),
        ip(ns[r], 'link', 'set', side, 'up'),
      );
    }
    out.push(
      ip(ns[r], 'addr', 'add', `${LAB.sync[r]}/${LAB.sync.bits}`, 'dev', 'sync'),
      ip(ns[r], 'link', 'set', 'sync', 'up'),
    );
  }
  return out;
}

/** The namespace a command acts in (the one it names first). */
export function commandNamespace(c: IpCommand): string | null {
  if (c[1] === '-n') return c[2] ?? null;
  if (c[1] === 'netns' && (c[2] === 'add' || c[2] === 'exec' || c[2] === 'del')) return c[3] ?? null;
  return null;
}
