// The narrator's window on a running lab: the routers' control sockets, the
// client's traffic status, and the actions (kill, start, type a key).

import type {
  ShowCarpResult,
  ShowInfoResult,
  ShowPfsyncResult,
  ShowRulesResult,
  ShowStatesResult,
} from '../control/results.js';
import { LAB, TIMINGS, type RouterName } from './lab-plan.js';
import { ask, paths, type Lab } from './lab-runtime.js';
import type { LabView } from './narrator.js';
import { readTrafficStatus } from './traffic-status.js';

const value = async <T>(p: Promise<{ ok: true; value: T } | { ok: false }>): Promise<T | null> => {
  const a = await p;
  return a.ok ? a.value : null;
};

export function labView(lab: Lab): LabView {
  return {
    timing: TIMINGS[lab.state.timing],
    carp: (r: RouterName) => value(ask<ShowCarpResult>(r, 'show carp')),
    states: (r: RouterName) =>
      value(ask<ShowStatesResult>(r, 'show states', { address: LAB.client.v4, sort: 'source' })),
    info: (r: RouterName) => value(ask<ShowInfoResult>(r, 'show info')),
    rules: (r: RouterName) => value(ask<ShowRulesResult>(r, 'show rules')),
    pfsync: async (r: RouterName) => {
      const a = await ask<ShowPfsyncResult>(r, 'show pfsync');
      if (a.ok) return a.value;
      return a.why === 'not-configured' ? 'absent' : null;
    },
    traffic: () => readTrafficStatus(paths.traffic),
    kill: (r: RouterName) => lab.killRouter(r),
    start: async (r: RouterName) => {
      await lab.startRouter(r);
    },
    typeKey: () => lab.typeKey(),
  };
}
