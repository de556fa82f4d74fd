/**
 * Acting roles and their write permissions, from `configs/roles.yaml` (validated; no warn-and-continue).
 * @module
 */
import { fileURLToPath } from "node:url";
import { readConfigFileSync } from "../util/mod.ts";
import { z } from "zod";
import { TABLE_NAMES } from "../sandbox/mod.ts";

/** A write action a role may be granted on a table. */
export const WriteActionName = z.enum(["insert", "update", "delete"]);
export type WriteActionName = z.infer<typeof WriteActionName>;

const tableKey = z.string().refine((t) => t === "*" || TABLE_NAMES.includes(t), {
  message: "must be a table of lab/sandbox/schema.ts or '*'",
});

/** Schema of `configs/roles.yaml`. */
export const RolesConfig = z.object({
  roles: z.record(
    z.string().regex(/^[a-z_]+$/),
    z.object({ description: z.string().min(1), write: z.record(tableKey, z.array(WriteActionName)) }),
  ),
});
/**
 * A loaded roles config.
 * @internal
 */
export type RolesConfig = z.infer<typeof RolesConfig>;

/** Default location of the roles file. */
export const ROLES_PATH: string = fileURLToPath(new URL("../../configs/roles.yaml", import.meta.url));

/** Loads and validates a roles file; a ConfigError names the file, the path inside it and the reason. */
export function loadRoles(path: string = ROLES_PATH): RolesConfig {
  return readConfigFileSync(RolesConfig, path, "roles config");
}

let cached: RolesConfig | undefined;
/** The roles of `configs/roles.yaml`, loaded once. */
export function defaultRoles(): RolesConfig {
  return cached ??= loadRoles();
}

/** Whether `role` may perform `action` on `table` (audit_log is never writable). */
export function mayWrite(roles: RolesConfig, role: string, table: string, action: WriteActionName): boolean {
  if (table === "audit_log") return false;
  const grants = roles.roles[role]?.write;
  if (!grants) return false;
  return [...(grants[table] ?? []), ...(grants["*"] ?? [])].includes(action);
}
