// Where a tunpf instance keeps its lock files, sysctl journal and control
// socket: one folder per network namespace, since interface names (and
// sysctls) belong to a namespace and several tunpf routers may share one
// machine (the lab).

import { readlinkSync } from 'node:fs';
import { join } from 'node:path';

function namespaceId(): string {
  try {
    return readlinkSync('/proc/self/ns/net').replace(/\D/g, '');
  } catch {
    return 'default';
  }
}

export const RUN_DIR = join('/run/tunpf', `net-${namespaceId()}`);
