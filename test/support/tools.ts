/**
 * Where scripts/setup-tools.sh puts the real tools (the same layout as scripts/tools-env.sh).
 * A missing tool throws: tests that need one fail loudly, they never skip.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import versions from "../../components/versions.json";

const toolsDir = process.env.PAAS_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "prometheus-paas", "tools");

export const toolDirs = {
    promtool: path.join(toolsDir, `promtool-${versions.tools.prometheusModule}`),
    pulumi: path.join(toolsDir, `pulumi-${versions.tools.pulumi}`),
};

function requireBinary(binary: string, step: string): string {
    if (!fs.existsSync(binary)) {
        throw new Error(`${path.basename(binary)} not found at ${binary}: run 'bash scripts/setup-tools.sh ${step}' (or 'bash scripts/setup.sh')`);
    }
    return binary;
}

export function promtoolBinary(): string {
    return process.env.PROMTOOL ?? requireBinary(path.join(toolDirs.promtool, "promtool"), "promtool");
}

export function pulumiBinary(): string {
    return requireBinary(path.join(toolDirs.pulumi, "pulumi"), "pulumi");
}

/** Environment for running the real engine offline against a given file backend. */
export function engineEnv(backendDir: string): NodeJS.ProcessEnv {
    const pulumiDir = path.dirname(pulumiBinary());
    return {
        ...process.env,
        PATH: `${pulumiDir}${path.delimiter}${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: "local-only-not-a-secret",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
    };
}
