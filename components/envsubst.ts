/** The `$(VAR)` substitution of the Thanos reloader, as a shell command for the containers that render config before Prometheus starts. */

/**
 * Shell (busybox sh + awk) that writes `out` from `template`, replacing every `$(VAR)` with the environment
 * variable VAR exactly like the Thanos reloader does (same pattern, single pass, unset variable = error), then
 * renames atomically so Prometheus never reads half a file.
 */
export function envsubstScript(template: string, out: string): string {
    const awk = [
        "{",
        "  line = $0; result = \"\"",
        "  while (match(line, /\\$\\([a-zA-Z_0-9]+\\)/)) {",
        "    name = substr(line, RSTART + 2, RLENGTH - 3)",
        "    if (!(name in ENVIRON)) { printf \"found reference to unset environment variable %s\\n\", name > \"/dev/stderr\"; failed = 1; exit 1 }",
        "    result = result substr(line, 1, RSTART - 1) ENVIRON[name]",
        "    line = substr(line, RSTART + RLENGTH)",
        "  }",
        "  print result line",
        "}",
        "END { if (failed) exit 1 }",
    ].join("\n");
    return `awk '${awk}' ${shellQuote(template)} > ${shellQuote(`${out}.tmp`)} && mv ${shellQuote(`${out}.tmp`)} ${shellQuote(out)}`;
}

export function shellQuote(text: string): string {
    return `'${text.replace(/'/g, `'\\''`)}'`;
}
