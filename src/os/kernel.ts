// The one module that changes the kernel's configuration: `ip` commands and
// sysctls. Every change is logged; failures carry the command and its stderr.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

export interface KernelLog {
  debug(obj: object, msg: string): void;
}

export interface InterfaceAddress {
  af: 4 | 6;
  address: string;
  bits: number;
  /** 'global', 'link', 'host'. */
  scope: string;
  /** IPv4: an alias, not the subnet's primary address (the kernel never picks it as a source). */
  secondary?: boolean;
}

export class KernelError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super(`${command}: ${stderr.trim() || 'failed'}`);
  }
}

export class Kernel {
  constructor(private readonly log: KernelLog = { debug: () => {} }) {}

  ip(...args: string[]): string {
    const command = `ip ${args.join(' ')}`;
    this.log.debug({ command }, 'kernel');
    try {
      return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      throw new KernelError(command, String((e as { stderr?: string }).stderr ?? (e as Error).message));
    }
  }

  /**
   * Several `ip` commands in one process (`ip -batch -`): a takeover should not wait for one fork per address.
   * `family` applies to every line (a line cannot say it); `force` goes on past failures and ignores them (for
   * removing what may not exist).
   */
  ipBatch(commands: string[][], opts: { family?: '-4' | '-6'; force?: boolean } = {}): void {
    if (commands.length === 0) return;
    const input = commands.map((c) => c.join(' ')).join('\n') + '\n';
    this.log.debug({ batch: input }, 'kernel');
    const args = [...(opts.family ? [opts.family] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
    try {
      execFileSync('ip', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      if (opts.force) return;
      throw new KernelError(
        `ip -batch (${commands.map((c) => c.join(' ')).join('; ')})`,
        String((e as { stderr?: string }).stderr ?? (e as Error).message),
      );
    }
  }

  /** Like ip(), but a failure is ignored (for removing what may not exist). */
  ipQuiet(...args: string[]): boolean {
    try {
      this.ip(...args);
      return true;
    } catch {
      return false;
    }
  }

  sysctlGet(name: string): string | null {
    try {
      return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
    } catch {
      return null;
    }
  }

  sysctlSet(name: string, value: string): void {
    this.log.debug({ sysctl: name, value }, 'kernel');
    try {
      // an empty write changes nothing: a newline clears a list (ip_local_reserved_ports)
      writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, value === '' ? '\n' : value);
    } catch (e) {
      throw new KernelError(`sysctl ${name}=${value}`, (e as Error).message);
    }
  }

  /** Interfaces with IPv4 settings (/proc/sys/net/ipv4/conf), 'all' and 'default' included. */
  ipv4ConfDevices(): string[] {
    try {
      return readdirSync('/proc/sys/net/ipv4/conf');
    } catch {
      return [];
    }
  }

  /** Whether a network interface exists. */
  linkExists(name: string): boolean {
    try {
      readFileSync(`/sys/class/net/${name}/ifindex`);
      return true;
    } catch {
      return false;
    }
  }

  /** The interface's addresses (`ip -json addr show dev NAME`). */
  addresses(name: string): InterfaceAddress[] {
    const list = JSON.parse(this.ip('-json', 'addr', 'show', 'dev', name) || '[]') as {
      addr_info?: { family: string; local: string; prefixlen: number; scope: string; secondary?: boolean }[];
    }[];
    const out: InterfaceAddress[] = [];
    for (const l of list) {
      for (const a of l.addr_info ?? []) {
        if (a.family === 'inet' || a.family === 'inet6')
          out.push({
            af: a.family === 'inet' ? 4 : 6,
            address: a.local,
            bits: a.prefixlen,
            scope: a.scope,
            secondary: a.secondary === true,
          });
      }
    }
    return out;
  }

  /** The interface's hardware address as text (aa:bb:...). */
  mac(name: string): string {
    return readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim();
  }

  /** Administratively up (IFF_UP) and with carrier: the link CARP and pfsync depend on. */
  linkUp(name: string): boolean {
    try {
      const flags = parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8'), 16);
      if (!(flags & 0x1)) return false;
      return readFileSync(`/sys/class/net/${name}/carrier`, 'utf8').trim() === '1';
    } catch {
      return false; // gone, or down (carrier cannot be read then)
    }
  }

  /**
   * Whether the interface still has IPv6 addresses in duplicate address
   * detection (IFA_F_TENTATIVE, from /proc/net/if_inet6). Until its
   * link-local address is out of it, the kernel sends no neighbour
   * solicitations from the interface, so it cannot forward IPv6 there.
   */
  ipv6Tentative(name: string): boolean {
    let text: string;
    try {
      text = readFileSync('/proc/net/if_inet6', 'utf8');
    } catch {
      return false; // no IPv6
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[5] === name && (parseInt(f[4] ?? '0', 16) & 0x40) !== 0) return true;
    }
    return false;
  }

  mtu(name: string): number {
    return Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
  }
}
