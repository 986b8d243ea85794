// The arguments of every control command as zod schemas: the server checks
// a request against its command's schema before the handler runs, and the
// handler's argument type is the schema's output (z.infer), so the check
// and the code cannot drift apart. Objects are strict: a misspelt field is
// named in the error instead of being ignored.

import { z } from 'zod';

/** What `show states` sorts by. */
export const STATE_SORT_KEYS = ['age', 'expiry', 'bytes', 'packets', 'rate', 'source', 'destination'] as const;
export type StateSortKey = (typeof STATE_SORT_KEYS)[number];

/** Commands without arguments. */
export const noArgs = z.object({}).strict();

/** pf's table names (PF_TABLE_NAME_SIZE is 32). */
export const tableNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'not a table name (1 to 32 of A-Z a-z 0-9 _ . -)');

const text = (max: number) => z.string().max(max);
const address = text(64);
const count = z.number().int().nonnegative();

export const showStatesArgs = z
  .object({
    /** Host or network; matches either end. */
    address: address.optional(),
    /** Matches either end's port. */
    port: z.number().int().min(0).max(65535).optional(),
    proto: text(32).optional(),
    interface: text(64).optional(),
    sort: z.enum(STATE_SORT_KEYS).optional(),
    reverse: z.boolean().optional(),
    limit: count.optional(),
  })
  .strict();

export const tableArgs = z.object({ table: tableNameSchema }).strict();

export const tableEditArgs = z.object({ table: tableNameSchema, addresses: z.array(address).max(65536) }).strict();

export const reloadArgs = z.object({ file: text(4096).min(1).optional() }).strict();

export const killStatesArgs = z
  .object({
    hosts: z.array(address).min(1).max(2).optional(),
    id: text(32).optional(),
    label: text(1024).optional(),
  })
  .strict();

export const carpStepArgs = z.object({ by: z.number().int().min(1).max(255).optional() }).strict();

export const anchorArgs = z.object({ anchor: text(1024) }).strict();

export const anchorLoadArgs = z.object({ anchor: text(1024), file: text(4096).min(1) }).strict();

export type ShowStatesArgs = z.infer<typeof showStatesArgs>;
export type TableArgs = z.infer<typeof tableArgs>;
export type TableEditArgs = z.infer<typeof tableEditArgs>;
export type ReloadArgs = z.infer<typeof reloadArgs>;
export type KillStatesArgs = z.infer<typeof killStatesArgs>;
export type CarpStepArgs = z.infer<typeof carpStepArgs>;
export type AnchorArgs = z.infer<typeof anchorArgs>;
export type AnchorLoadArgs = z.infer<typeof anchorLoadArgs>;

/** A failed check as one line naming each field: "port: Number must be less than or equal to 65535". */
export function describeIssues(error: z.ZodError, limit = 3): string {
  const lines = error.issues.slice(0, limit).map((i) => {
    const path = i.path.length ? i.path.join('.') : 'args';
    return `${path}: ${i.message}`;
  });
  const more = error.issues.length - limit;
  return lines.join('; ') + (more > 0 ? `; and ${more} more` : '');
}
