/** The `$(VAR)` substitution of the Thanos reloader, for the containers that render config before Prometheus starts. */
import * as fs from "fs";
import * as path from "path";

/**
 * The awk program (busybox awk) replacing every `$(VAR)` with the environment variable VAR exactly like the Thanos
 * reloader does (same pattern, single pass, unset variable = error). One file: the config init inlines it, the
 * shutdown flush (flush.sh) runs it from its ConfigMap.
 */
export const envsubstAwkFile = path.join(__dirname, "envsubst.awk");
export const envsubstAwk = fs.readFileSync(envsubstAwkFile, "utf8");

/** Shell that writes `out` from `template` through the awk program, then renames atomically so Prometheus never reads half a file. */
export function envsubstScript(template: string, out: string): string {
    return `awk ${shellQuote(envsubstAwk.trimEnd())} ${shellQuote(template)} > ${shellQuote(`${out}.tmp`)} && mv ${shellQuote(`${out}.tmp`)} ${shellQuote(out)}`;
}

export function shellQuote(text: string): string {
    return `'${text.replace(/'/g, `'\\''`)}'`;
}
