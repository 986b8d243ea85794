// Names the rule language accepts for protocols, ports and ICMP types and
// codes. Shipped here so a ruleset means the same on every host (pfctl reads
// /etc/protocols and /etc/services; these tables follow OpenBSD's).

/** Protocol names; the first name listed for a number is the one printed. */
const PROTOCOLS: [string, number][] = [
  ['ip', 0],
  ['icmp', 1],
  ['igmp', 2],
  ['ipencap', 4],
  ['tcp', 6],
  ['egp', 8],
  ['udp', 17],
  ['rdp', 27],
  ['ipv6', 41],
  ['ipv6-route', 43],
  ['ipv6-frag', 44],
  ['rsvp', 46],
  ['gre', 47],
  ['esp', 50],
  ['ah', 51],
  ['ipv6-icmp', 58],
  ['icmp6', 58],
  ['ipv6-nonxt', 59],
  ['ipv6-opts', 60],
  ['ospf', 89],
  ['ipip', 94],
  ['etherip', 97],
  ['encap', 98],
  ['pim', 103],
  ['ipcomp', 108],
  ['carp', 112],
  ['vrrp', 112],
  ['l2tp', 115],
  ['sctp', 132],
  ['udplite', 136],
  ['pfsync', 240],
];

const protoByName = new Map<string, number>();
const protoName = new Map<number, string>();
for (const [name, nr] of PROTOCOLS) {
  protoByName.set(name, nr);
  if (!protoName.has(nr)) protoName.set(nr, name);
}

export function protocolNumber(name: string): number | undefined {
  if (/^[0-9]+$/.test(name)) {
    const n = Number(name);
    return n <= 255 ? n : undefined;
  }
  return protoByName.get(name.toLowerCase());
}

export function protocolName(nr: number): string {
  return protoName.get(nr) ?? String(nr);
}

/** Protocols whose packets carry ports. */
export function protocolHasPorts(nr: number | null): boolean {
  return nr === 6 || nr === 17 || nr === 132 || nr === 136;
}

/** Well-known service names (tcp and udp share numbers for these). */
const SERVICES: [string, number][] = [
  ['tcpmux', 1],
  ['echo', 7],
  ['discard', 9],
  ['systat', 11],
  ['daytime', 13],
  ['netstat', 15],
  ['qotd', 17],
  ['chargen', 19],
  ['ftp-data', 20],
  ['ftp', 21],
  ['ssh', 22],
  ['telnet', 23],
  ['smtp', 25],
  ['time', 37],
  ['whois', 43],
  ['domain', 53],
  ['bootps', 67],
  ['bootpc', 68],
  ['tftp', 69],
  ['gopher', 70],
  ['finger', 79],
  ['http', 80],
  ['www', 80],
  ['kerberos', 88],
  ['pop3', 110],
  ['sunrpc', 111],
  ['auth', 113],
  ['ident', 113],
  ['nntp', 119],
  ['ntp', 123],
  ['netbios-ns', 137],
  ['netbios-dgm', 138],
  ['netbios-ssn', 139],
  ['imap', 143],
  ['snmp', 161],
  ['snmptrap', 162],
  ['bgp', 179],
  ['irc', 194],
  ['ldap', 389],
  ['https', 443],
  ['microsoft-ds', 445],
  ['isakmp', 500],
  ['syslog', 514],
  ['printer', 515],
  ['submission', 587],
  ['ldaps', 636],
  ['rsync', 873],
  ['ftps-data', 989],
  ['ftps', 990],
  ['imaps', 993],
  ['pop3s', 995],
  ['socks', 1080],
  ['openvpn', 1194],
  ['ms-sql-s', 1433],
  ['l2tp', 1701],
  ['pptp', 1723],
  ['radius', 1812],
  ['radius-acct', 1813],
  ['nfsd', 2049],
  ['mysql', 3306],
  ['rdp', 3389],
  ['sip', 5060],
  ['sip-tls', 5061],
  ['postgresql', 5432],
  ['x11', 6000],
  ['http-alt', 8080],
  ['ipsec-nat-t', 4500],
  ['domain-s', 853],
  ['mdns', 5353],
  ['redis', 6379],
  ['memcache', 11211],
];
const serviceByName = new Map(SERVICES);

/** A port number from a number or a service name; undefined if neither. */
export function portNumber(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    return n <= 65535 ? n : undefined;
  }
  return serviceByName.get(text.toLowerCase());
}

// ICMP types and codes with pf's names (pfctl_parser.c's tables).
const ICMP4_TYPES: [string, number][] = [
  ['echorep', 0],
  ['unreach', 3],
  ['squench', 4],
  ['redir', 5],
  ['althost', 6],
  ['echoreq', 8],
  ['routeradv', 9],
  ['routersol', 10],
  ['timex', 11],
  ['paramprob', 12],
  ['timereq', 13],
  ['timerep', 14],
  ['inforeq', 15],
  ['inforep', 16],
  ['maskreq', 17],
  ['maskrep', 18],
  ['trace', 30],
  ['dataconv', 31],
  ['mobredir', 32],
  ['ipv6-where', 33],
  ['ipv6-here', 34],
  ['mobregreq', 35],
  ['mobregrep', 36],
  ['skip', 39],
  ['photuris', 40],
];
const ICMP6_TYPES: [string, number][] = [
  ['unreach', 1],
  ['toobig', 2],
  ['timex', 3],
  ['paramprob', 4],
  ['echoreq', 128],
  ['echorep', 129],
  ['groupqry', 130],
  ['listqry', 130],
  ['grouprep', 131],
  ['listenrep', 131],
  ['groupterm', 132],
  ['listendone', 132],
  ['routersol', 133],
  ['routeradv', 134],
  ['neighbrsol', 135],
  ['neighbradv', 136],
  ['redir', 137],
  ['routrrenum', 138],
  ['wrureq', 139],
  ['wrurep', 140],
  ['fqdnreq', 139],
  ['fqdnrep', 140],
  ['niqry', 139],
  ['nirep', 140],
  ['mtraceresp', 200],
  ['mtrace', 201],
];
/** [name, type, code] */
const ICMP4_CODES: [string, number, number][] = [
  ['net-unr', 3, 0],
  ['host-unr', 3, 1],
  ['proto-unr', 3, 2],
  ['port-unr', 3, 3],
  ['needfrag', 3, 4],
  ['srcfail', 3, 5],
  ['net-unk', 3, 6],
  ['host-unk', 3, 7],
  ['isolate', 3, 8],
  ['net-prohib', 3, 9],
  ['host-prohib', 3, 10],
  ['net-tos', 3, 11],
  ['host-tos', 3, 12],
  ['filter-prohib', 3, 13],
  ['host-preced', 3, 14],
  ['cutoff-preced', 3, 15],
  ['redir-net', 5, 0],
  ['redir-host', 5, 1],
  ['redir-tos-net', 5, 2],
  ['redir-tos-host', 5, 3],
  ['normal-adv', 9, 0],
  ['common-adv', 9, 16],
  ['transit', 11, 0],
  ['reassemb', 11, 1],
  ['badhead', 12, 0],
  ['optmiss', 12, 1],
  ['badlen', 12, 2],
  ['unknown-ind', 40, 1],
  ['auth-fail', 40, 2],
  ['decrypt-fail', 40, 3],
];
const ICMP6_CODES: [string, number, number][] = [
  ['noroute-unr', 1, 0],
  ['admin-unr', 1, 1],
  ['beyond-unr', 1, 2],
  ['addr-unr', 1, 3],
  ['port-unr', 1, 4],
  ['transit', 3, 0],
  ['reassemb', 3, 1],
  ['badhead', 4, 0],
  ['nxthdr', 4, 1],
  ['redironlink', 137, 0],
  ['redirrouter', 137, 1],
];

const typeTables = { 4: new Map(ICMP4_TYPES), 6: new Map(ICMP6_TYPES) };
const typeNames = { 4: new Map<number, string>(), 6: new Map<number, string>() };
for (const [n, t] of ICMP4_TYPES) if (!typeNames[4].has(t)) typeNames[4].set(t, n);
for (const [n, t] of ICMP6_TYPES) if (!typeNames[6].has(t)) typeNames[6].set(t, n);

export function icmpTypeNumber(family: 4 | 6, text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    return n <= 255 ? n : undefined;
  }
  return typeTables[family].get(text.toLowerCase());
}

export function icmpTypeName(family: 4 | 6, type: number): string {
  return typeNames[family].get(type) ?? String(type);
}

/** A code by number, or by name (which also fixes the type it belongs to). */
export function icmpCodeNumber(family: 4 | 6, type: number, text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    return n <= 255 ? n : undefined;
  }
  const table = family === 4 ? ICMP4_CODES : ICMP6_CODES;
  const hit = table.find(([n, t]) => n === text.toLowerCase() && t === type);
  return hit?.[2];
}

export function icmpCodeName(family: 4 | 6, type: number, code: number): string {
  const table = family === 4 ? ICMP4_CODES : ICMP6_CODES;
  const hit = table.find(([, t, c]) => t === type && c === code);
  return hit ? hit[0] : String(code);
}
