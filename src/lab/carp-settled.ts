// When the lab's CARP groups have settled for good, judged from what the
// routers report. One master per group is not enough: while a router is
// still demoted (its pfsync bulk update or its links have not finished at
// startup) the roles it holds are provisional, and once the demotion clears
// a preempting router takes a group back, passing through a moment where
// both are backup (each heard the other's better claim). So the groups count
// as settled only when no router is demoted and every master is the router
// CARP would pick anyway: none of the backups would preempt it.

import type { ShowCarpResult } from '../control/results.js';
import { ROUTERS, type RouterName } from './lab-plan.js';

type Group = ShowCarpResult['groups'][number];
const interval = (g: Group): number => g.advbase + g.advskew / 256;

/**
 * The master of the first group, when every group in `groupNames` has one
 * master, the other routers are its backups, none of which would preempt
 * it, and no router is demoted; null otherwise (nothing answers, or not yet).
 */
export function settledMaster(
  carp: Record<RouterName, ShowCarpResult | null>,
  groupNames: readonly string[],
): RouterName | null {
  if (ROUTERS.some((r) => carp[r] === null || carp[r]!.demote !== 0)) return null;
  let first: RouterName | null = null;
  for (const name of groupNames) {
    const of = ROUTERS.map((r) => ({ r, g: carp[r]!.groups.find((g) => g.name === name) }));
    if (of.some((x) => x.g === undefined)) return null;
    const masters = of.filter((x) => x.g!.state === 'MASTER');
    if (masters.length !== 1) return null;
    const master = masters[0]!;
    for (const x of of) {
      if (x === master) continue;
      if (x.g!.state !== 'BACKUP') return null;
      if (x.g!.preempt && interval(x.g!) < interval(master.g!)) return null; // it is about to take the group
    }
    first ??= master.r;
  }
  return first;
}
