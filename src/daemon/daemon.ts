// The router-mode daemon: wires the filter, the TUNs, the kernel set-up and
// the routing mirror together, in one place, and takes them apart again.

import { PacketFilter } from '../filter/packet-filter.js';
import { InterfaceRegistry } from '../filter/interface-registry.js';
import type { Logger } from '../log/logger.js';
import type { PacketLogSink } from '../log/pflog-writer.js';
import type { InterfaceInfo, Ruleset } from '../rules/ast.js';
import { FibMirror } from '../datapath/fib-mirror.js';
import { Forwarder, FROM_ROUTER } from '../datapath/forwarder.js';
import { OwnRoutes } from '../datapath/own-routes.js';
import { SocketOwners } from '../datapath/socket-owners.js';
import { loadNativeAddon } from '../os/native-addon.js';
import { join } from 'node:path';
import { InstanceLock } from './instance-lock.js';
import { RUN_DIR } from '../os/run-dir.js';
import { systemClock } from '../os/clock.js';
import { Kernel } from '../os/kernel.js';
import { RouteOutputs } from '../datapath/route-outputs.js';
import { OWN_TUN, planRouter, RouterSetup } from '../datapath/router-setup.js';
import { IpJournal } from '../os/ip-journal.js';
import { IP_JOURNAL, LOCAL_RULE_JOURNAL, removeLeftovers, SYSCTL_JOURNAL } from './leftovers.js';
import { SysctlJournal } from '../os/sysctl-journal.js';
import { CarpService } from '../carp/carp-service.js';
import { Demotion } from '../carp/demotion.js';
import { carpMetrics, registerCarpCommands } from '../control/carp-commands.js';
import { PfsyncService } from '../pfsync/pfsync-service.js';
import { pfsyncMetrics, registerPfsyncCommands } from '../control/pfsync-commands.js';
import type { HaConfig } from './ha-config.js';
import { TunDevice } from '../datapath/tun-device.js';
import { StateReason, StateReasonName } from '../state/constants.js';
import { StateEngine } from '../state/state-engine.js';
import { registerFilterCommands, reload as reloadCommand } from '../control/filter-commands.js';
import { ControlError, ControlServer } from '../control/server.js';
import { ErrorCode } from '../control/protocol.js';
import type { ReloadResult } from '../control/results.js';
import { filterMetrics } from '../control/filter-metrics.js';
import { MetricsEndpoint, type ListenAddress } from '../control/metrics-http.js';
import { MetricsRegistry } from '../control/metrics.js';
import type { LoadResult } from '../rules/load-file.js';
import { PacketPipeline } from '../datapath/pipeline.js';
import { RouteTable } from '../datapath/route-table.js';
import { HaAdmission } from './ha-admission.js';
import { formatHaRuleProblem, haRuleProblems } from './ha-rules.js';

export interface DaemonOptions {
  ruleset: Ruleset;
  interfaces: string[];
  hostInterfaces: InterfaceInfo[];
  log: Logger;
  batch?: number;
  wakeup?: 'poll' | 'thread';
  lockDir?: string;
  /** CARP (and later pfsync) settings from the HA file. */
  ha?: HaConfig | null;
  /** Control socket path (default: the namespace's), metrics endpoint (default: off), and what `ctl reload` loads. */
  socket?: string;
  metrics?: ListenAddress;
  rulesFile?: string;
  loadRuleset?: (file: string, anchor?: string) => LoadResult;
  /** Where packets that rules log go (`--pflog`); none by default. */
  pflog?: PacketLogSink | null;
}

export class Daemon {
  /** The daemon's one clock: everything here that needs the time asks it. */
  readonly clock = systemClock();
  readonly kernel: Kernel;
  readonly registry: InterfaceRegistry;
  filter: PacketFilter;
  /** Connection tracking: a peer of the filter, handed to whoever needs it. */
  readonly states: StateEngine;
  private readonly tuns: { tun: TunDevice; ifId: number; ifname: string }[] = [];
  private setup: RouterSetup | null = null;
  private routeOutputs: RouteOutputs | null = null;
  private fib: FibMirror | null = null;
  private ownRoutes: OwnRoutes | null = null;
  /** `user` and `group`: who owns the router's sockets (every owner is unknown until the routing mirror runs). */
  private readonly owners = new SocketOwners(loadNativeAddon());
  private forwarder: Forwarder | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly lock: InstanceLock;
  private sysctls: SysctlJournal | null = null;
  /** The node's demotion counter, shared by CARP and pfsync. */
  readonly demotion = new Demotion();
  carp: CarpService | null = null;
  pfsync: PfsyncService | null = null;
  private stopped = false;
  /** The operator's interface: subsystems add their control commands and metrics providers here. */
  readonly control: ControlServer;
  readonly metrics = new MetricsRegistry();
  private metricsEndpoint: MetricsEndpoint | null = null;
  /** CARP's and pfsync's own packets through the rules (their sockets bypass the datapath). */
  private readonly haAdmission: HaAdmission;
  /** The interfaces (and their macvlans) whose traffic to the router goes through the datapath. */
  private readonly steered = new Set<string>();

  constructor(private readonly opts: DaemonOptions) {
    this.kernel = new Kernel({ debug: (o, m) => opts.log.debug(o, m) });
    this.registry = new InterfaceRegistry(opts.hostInterfaces);
    this.states = StateEngine.forRuleset(opts.ruleset, { startSeconds: Math.floor(this.clock()) });
    this.filter = new PacketFilter(opts.ruleset, {
      states: this.states,
      interfaces: this.registry,
      owners: this.owners,
    });
    this.lock = new InstanceLock(opts.lockDir);
    this.control = new ControlServer({ path: opts.socket, log: opts.log });
    // one check per packet, never a route: the pipeline's route table stays empty
    const haPipeline = new PacketPipeline(this.filter, this.states, new RouteTable());
    haPipeline.logTo(opts.pflog ?? null);
    this.haAdmission = new HaAdmission({
      pipeline: haPipeline,
      interfaces: this.registry,
      clock: this.clock,
      skipped: () => this.filter.rules.ruleset.options.skip,
      // filled when the datapath starts: unicast arriving on a steered interface has its check there
      datapathUnicast: this.steered,
    });
  }

  /** A warning per kind of CARP or pfsync packet the ruleset blocks (`tunpf check --ha` says the same). */
  private warnHaRules(ruleset: Ruleset): void {
    const ha = this.opts.ha;
    if (!ha || (!ha.carp.length && !ha.pfsync)) return;
    for (const p of haRuleProblems(ruleset, ha, this.opts.hostInterfaces))
      this.opts.log.warn(
        {
          proto: p.proto,
          carp: p.group ?? undefined,
          interface: p.ifname,
          directions: p.directions,
          rule: p.rule ? `${p.rule.loc.file}:${p.rule.loc.line}` : undefined,
          add: p.fix.line,
          detail: formatHaRuleProblem(p, 'warning'),
        },
        p.proto === 'carp'
          ? `the ruleset blocks CARP ${p.directions.join(' and ')} on ${p.ifname}: the peers cannot hear each other`
          : `the ruleset blocks pfsync ${p.directions.join(' and ')} on ${p.ifname}: states are not replicated`,
      );
  }

  private startOperatorInterface(): void {
    const { rulesFile, loadRuleset, metrics, log } = this.opts;
    const ctx = {
      filter: () => this.filter,
      states: this.states,
      forwardCounters: () => this.forwarder?.counters ?? null,
      fragments: () => this.forwarder?.pipeline.fragments ?? null,
      now: this.clock,
      startedAt: this.clock(),
      rulesFile,
      loadRuleset,
      applyRuleset: (rs: Ruleset) => this.reload(rs),
      // with pfsync the peer hears one CLR instead of a delete per state
      flushStates: () => (this.pfsync ? this.pfsync.flushStates() : this.states.flush()),
    };
    registerFilterCommands(this.control, ctx);
    this.reloadRulesFile = () => reloadCommand(ctx, {});
    this.metrics.register('filter', filterMetrics(ctx));
    this.control.listen();
    if (metrics) (this.metricsEndpoint = new MetricsEndpoint(this.metrics, metrics, log)).start();
  }

  start(): void {
    const { log, interfaces } = this.opts;
    for (const name of interfaces) if (!this.kernel.linkExists(name)) throw new Error(`no such interface: ${name}`);
    this.lock.acquire(interfaces);
    try {
      this.startOperatorInterface();
      const dir = this.opts.lockDir ?? RUN_DIR;
      const localRuleJournal = join(dir, LOCAL_RULE_JOURNAL);
      // the same undo as `tunpf cleanup`
      const stale = removeLeftovers(this.kernel, dir);
      const { sysctls, rules, commands, tuns } = stale;
      if (rules || sysctls || commands.length || tuns.length)
        log.warn({ sysctls, rules, commands, tuns }, 'undid what a previous tunpf left behind');
      this.sysctls = new SysctlJournal(this.kernel, join(dir, SYSCTL_JOURNAL));
      this.warnHaRules(this.opts.ruleset);
      const carpGroups = this.opts.ha?.carp ?? [];
      if (carpGroups.length) {
        this.carp = new CarpService({
          groups: carpGroups,
          kernel: this.kernel,
          sysctls: this.sysctls,
          log,
          demotion: this.demotion,
          clock: this.clock,
          admission: this.haAdmission,
          journal: new IpJournal(join(dir, IP_JOURNAL)),
        });
        this.carp.prepare();
      }
      // what hosts send to a virtual MAC arrives on its macvlan: it is filtered as arriving on carpdev
      const plan = planRouter(interfaces, CarpService.virtualDevices(carpGroups));
      const mtu = Math.max(...interfaces.map((i) => this.kernel.mtu(i)));
      const skip = new Set(this.opts.ruleset.options.skip);
      const filtered = plan.interfaces.filter((i) => !skip.has(i.ifname)); // set skip on: never steered into tunpf
      const openTun = (name: string) =>
        TunDevice.open(name, { mtu, batch: this.opts.batch ?? 64, wakeup: this.opts.wakeup, clock: this.clock });
      for (const i of filtered)
        this.tuns.push({ tun: openTun(i.tun), ifId: this.registry.intern(i.ifname), ifname: i.ifname });
      // what the router sends through a filtered interface comes to tunpf through tpf-local first
      if (filtered.length) this.tuns.push({ tun: openTun(OWN_TUN), ifId: FROM_ROUTER, ifname: 'self' });
      // a route through a macvlan leaves through its carpdev, as far as `out on` rules go
      const parentOf = new Map(
        [...CarpService.virtualDevices(carpGroups)].flatMap(([dev, vs]) => vs.map((v) => [v, dev] as const)),
      );
      for (const i of filtered) for (const name of [i.ifname, ...i.aliases]) this.steered.add(name);
      const ownRoutes = (this.ownRoutes = new OwnRoutes(this.kernel, this.steered));
      // route-to, reply-to, dup-to: a TUN, a table and a rule per route target
      const routeOutputs = (this.routeOutputs = new RouteOutputs(this.kernel, this.sysctls, openTun, (msg, target) =>
        log.warn({ target }, msg),
      ));
      routeOutputs.sync(this.filter.routeTargets);
      this.fib = new FibMirror(
        this.kernel,
        (name) => this.registry.intern(parentOf.get(name) ?? name),
        [...this.tuns.map((t) => t.tun.name), ...routeOutputs.names()],
        (main) => ownRoutes.sync(main),
      );
      // the router's own routes are in place before the rule that leads its traffic to them
      this.fib.load();
      this.owners.routes = this.fib.routes;
      this.setup = new RouterSetup(this.kernel, { interfaces: filtered }, this.sysctls, localRuleJournal);
      this.setup.apply();
      this.fib.watch((e) => log.error({ err: e.message }, 'routing table mirror'));
      this.forwarder = new Forwarder({
        filter: this.filter,
        states: this.states,
        routes: this.fib.routes,
        batchSize: this.opts.batch ?? 64,
        clock: this.clock,
      });
      this.forwarder.logTo(this.opts.pflog ?? null);
      this.forwarder.routeWith(routeOutputs);
      const pfsyncConfig = this.opts.ha?.pfsync;
      if (pfsyncConfig) {
        // before CARP: its bulk request demotes the node until the peer's table is here
        this.pfsync = new PfsyncService({
          config: pfsyncConfig,
          states: this.states,
          kernel: this.kernel,
          log,
          demotion: this.demotion,
          ifName: (id) => this.registry.name(id),
          ifId: (name) => this.registry.id(name),
          routes: () => this.filter.routeTargets,
          clock: this.clock,
          admission: this.haAdmission,
        });
        this.pfsync.start();
        this.forwarder.syncWith(this.pfsync);
        registerPfsyncCommands(this.control, this.pfsync);
        this.metrics.register('pfsync', pfsyncMetrics(this.pfsync));
      }
      for (const t of this.tuns) {
        t.tun.start(
          (rx) => this.forwarder!.onBatch(t.tun, t.ifId, rx),
          (e) => log.error({ err: e.message, interface: t.ifname }, 'TUN read failed'),
        );
      }
      this.expiryTimer = setInterval(() => {
        const s = this.states;
        s.expire(this.clock(), s.purgeBudget(1));
        this.forwarder!.pipeline.expireFragments(this.clock());
        this.reportLimits();
      }, 1000);
      if (this.carp) {
        this.carp.start();
        registerCarpCommands(this.control, this.carp);
        this.metrics.register('carp', carpMetrics(this.carp));
      }
      log.info(
        {
          interfaces: this.tuns.map((t) => `${t.ifname}->${t.tun.name}`),
          routes: this.fib.size,
          rules: this.opts.ruleset.rules.length,
          stateLimit: this.states.table.capacity,
        },
        'tunpf started',
      );
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  private readonly limitsSeen = new Float64Array(8);

  /** Once a second at most: a warning when limits refused states (set limit states, max, max-src-*). */
  private reportLimits(): void {
    const by = this.states.counters.byReason;
    const refused: Record<string, number> = {};
    for (const reason of [StateReason.STATE_LIMIT, StateReason.RULE_LIMIT, StateReason.SRC_LIMIT]) {
      const n = by[reason]! - this.limitsSeen[reason]!;
      if (n > 0) refused[StateReasonName[reason]!] = n;
      this.limitsSeen[reason] = by[reason]!;
    }
    if (Object.keys(refused).length)
      this.opts.log.warn(
        { refused, states: this.states.table.count, limit: this.states.table.capacity },
        'state limits reached: new states refused',
      );
  }

  /**
   * Reads the rules file again and swaps it in (SIGHUP), by the path `ctl reload` takes: any failure is a
   * refusal that leaves the running ruleset. Set once the control server is up.
   */
  reloadRulesFile: () => ReloadResult = () => {
    throw new ControlError(ErrorCode.REFUSED, 'tunpf is not started');
  };

  /** Swaps in a new ruleset; states and persistent tables stay. */
  reload(ruleset: Ruleset): void {
    this.filter.reload(ruleset);
    this.routeOutputs?.sync(this.filter.routeTargets);
    this.opts.log.info({ rules: ruleset.rules.length, states: this.states.table.count }, 'ruleset reloaded');
    this.warnHaRules(ruleset);
  }

  get counters() {
    return { forward: this.forwarder?.counters, filter: this.filter.counters, states: this.states.table.count };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.control.close();
    this.metricsEndpoint?.close();
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    try {
      this.carp?.stop(); // bow out first, so the backup takes over while this node still forwards
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'carp stop failed');
    }
    for (const t of this.tuns) t.tun.stop();
    try {
      this.pfsync?.stop();
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'pfsync stop failed');
    }
    this.fib?.stop();
    this.ownRoutes?.clear();
    this.routeOutputs?.undo();
    this.setup?.undo();
    this.sysctls?.restore();
    for (const t of this.tuns.splice(0)) t.tun.close();
    this.lock.release();
    this.opts.log.info({}, 'tunpf stopped');
  }
}
