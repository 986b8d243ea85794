// A reader that goes away (`tunpf check -v FILE | head`) closes our stdout:
// the next write fails with EPIPE. That is the reader's choice, not an
// error: the command ends quietly, as a command killed by SIGPIPE does.
// A command that holds the system (the daemon, the lab, top) stops as on
// SIGTERM (the lab: SIGINT), so it still removes what it set up.

import type { Writable } from 'node:stream';

/** Ends the process quietly when `stream` is closed by its reader; other errors stay errors. */
export function endQuietlyWhenClosed(stream: Writable, proc: NodeJS.Process = process): void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    if (closed) return;
    closed = true;
    const stop = proc.listenerCount('SIGTERM') > 0 ? 'SIGTERM' : proc.listenerCount('SIGINT') > 0 ? 'SIGINT' : null;
    if (stop) proc.emit(stop, stop);
    else proc.exit(proc.exitCode ?? 0);
  });
}
