/**
 * The rules no catalog data can override: upgrades an image cannot do to its own volume. Checked when
 * an admin declares an upgrade path (400) and again when an instance asks for one (409).
 */
import { PROFILES } from "../../kube/templates/index.js";
import type { ServiceTemplate } from "../../kube/templates/template-spec.js";

/** The leading number of a tag: "16.9-alpine" -> "16". */
export function majorOf(version: string): string {
  return /^\d+/.exec(version)?.[0] ?? version;
}

/** Why moving an instance's volume from `from` to `to` in place cannot work, or undefined when it can. */
export function upgradeRefusal(
  template: ServiceTemplate,
  from: { image: string; version: string },
  to: { image: string; version: string },
): string | undefined {
  if (template === "postgresql" && majorOf(from.version) !== majorOf(to.version)) {
    return (
      `PostgreSQL ${majorOf(from.version)} -> ${majorOf(to.version)} is a major version upgrade, which cannot be done in place: ` +
      "the data directory of one major version does not start under another (it needs pg_upgrade or a dump and restore). " +
      `Create a new PostgreSQL instance on ${majorOf(to.version)} and move the data with pg_dump/pg_restore`
    );
  }
  const a = PROFILES[template].ids(from);
  const b = PROFILES[template].ids(to);
  if (a.uid !== b.uid || a.gid !== b.gid) {
    return `${to.image}:${to.version} runs as uid ${b.uid} (was ${a.uid}): the files on the volume would not be readable`;
  }
  return undefined;
}
