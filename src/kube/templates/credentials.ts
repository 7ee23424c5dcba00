import { randomBytes } from "node:crypto";
import type { ServiceTemplate } from "./template-spec.js";

/** URL-safe random string with `bytes` bytes of entropy (no characters needing shell or URL escapes). */
function randomToken(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}

/**
 * Fresh credentials for a new instance. Called once at provisioning and stored by the caller, so
 * re-rendering later produces the same Secret (an n8n encryption key must never change, or every
 * stored credential in the instance becomes unreadable).
 *
 * - n8n: only `N8N_ENCRYPTION_KEY`. n8n 1.x removed basic auth; the owner account is created in the
 *   UI on first visit.
 * - ghost: nothing. Ghost uses SQLite on its volume and creates its admin in the UI; the Secret still
 *   exists (empty) and is mounted via envFrom so mail credentials can be added without a template change.
 * - postgresql: superuser name, database and a 32-byte password.
 */
export function generateCredentials(template: ServiceTemplate): Record<string, string> {
  switch (template) {
    case "n8n":
      return { N8N_ENCRYPTION_KEY: randomBytes(32).toString("hex") };
    case "ghost":
      return {};
    case "postgresql":
      return { POSTGRES_USER: "app", POSTGRES_DB: "app", POSTGRES_PASSWORD: randomToken(32) };
  }
}
