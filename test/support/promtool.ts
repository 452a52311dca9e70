/**
 * The real promtool, built by scripts/setup-tools.sh at the version of the pinned Prometheus image.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promtoolBinary } from "./tools";

export function promtool(): string {
    return promtoolBinary();
}

/** Prometheus version promtool reports, e.g. "3.16.0". */
export function promtoolVersion(): string {
    const output = execFileSync(promtool(), ["--version"], { encoding: "utf8" });
    const match = /promtool, version ([0-9.]+)/.exec(output);
    if (!match) throw new Error(`unexpected promtool --version output: ${output}`);
    return match[1];
}

export interface PromtoolResult {
    readonly ok: boolean;
    readonly output: string;
}

export function runPromtool(args: string[], cwd?: string): PromtoolResult {
    const result = spawnSync(promtool(), args, { encoding: "utf8", cwd });
    if (result.error) throw result.error;
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Writes files into a fresh temporary directory and returns its path. */
export function writeTempFiles(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promtool-"));
    for (const [name, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), content);
    }
    return dir;
}

/** `promtool check config` on a prometheus.yml; its rule_files glob is resolved relative to the file. */
export function checkConfig(prometheusYml: string, ruleFiles: Record<string, string> = {}): PromtoolResult {
    const dir = writeTempFiles({ "prometheus.yml": prometheusYml, ...ruleFiles });
    return runPromtool(["check", "config", path.join(dir, "prometheus.yml")]);
}

export function checkRules(ruleFile: string): PromtoolResult {
    const dir = writeTempFiles({ "rules.yml": ruleFile });
    return runPromtool(["check", "rules", path.join(dir, "rules.yml")]);
}
