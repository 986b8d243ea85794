// Output sinks of a CLI command, so commands are testable without a process.

export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CommandIO = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
};
