/**
 * Where scripts/setup-tools.sh puts the real tools (the layout of scripts/tools-env.sh), and the Pulumi CLI the
 * engine runs with: the user's by default, this project's offline build when PAAS_TOOLCHAIN=offline chooses it
 * (automation/toolchain.ts). Offline: the pinned CLI, the project-owned PULUMI_HOME, plugin downloads off.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import versions from "../components/versions.json";
import { checkCliVersion, CliRequirement, EngineMissingError, findOnPath, noCliMessage, pipelineCliRequirement, selectedToolchain, Toolchain, toolchainVariable } from "./toolchain";

export const projectRoot = path.resolve(__dirname, "..");
export const setupHint = "run 'bash scripts/setup.sh' (it builds the tools into the versioned cache)";

const tools = versions.tools;
const toolsDir = process.env.PAAS_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "prometheus-paas", "tools");

export const toolDirs = {
    prometheus: path.join(toolsDir, `prometheus-${tools.prometheus.version}`),
    pulumi: path.join(toolsDir, `pulumi-${tools.pulumi.version}`, "bin"),
    pulumiKubernetes: path.join(toolsDir, `pulumi-kubernetes-${tools.pulumiKubernetes.pluginVersion}-${tools.pulumiKubernetes.version.split("-").pop()}`),
    thanos: path.join(toolsDir, `thanos-${tools.thanos.version}`),
    versitygw: path.join(toolsDir, `versitygw-${tools.versitygw.version}`),
    kubeApiserver: path.join(toolsDir, `kube-apiserver-${tools.kubeApiserver.version}`),
    caddy: path.join(toolsDir, `caddy-${tools.caddy.version}`),
    netpolEval: path.join(toolsDir, `netpol-eval-${tools.netpolEval.version}`),
    shims: path.join(projectRoot, "scripts", "shims"),
};

/** The project-owned PULUMI_HOME of the offline toolchain: the Kubernetes provider plugin is installed there. */
export const pulumiHome = process.env.PAAS_PULUMI_HOME ?? path.join(toolsDir, "pulumi-home");

export type ToolName = "promtool" | "prometheus" | "thanos" | "versitygw" | "kube-apiserver" | "caddy" | "netpol-eval";

const toolDirOf: Record<ToolName, string> = {
    promtool: toolDirs.prometheus,
    prometheus: toolDirs.prometheus,
    thanos: toolDirs.thanos,
    versitygw: toolDirs.versitygw,
    "kube-apiserver": toolDirs.kubeApiserver,
    caddy: toolDirs.caddy,
    "netpol-eval": toolDirs.netpolEval,
};

/** The path of a built tool; throws when it is missing. */
export function toolBinary(name: ToolName): string {
    const binary = path.join(toolDirOf[name], name);
    if (!fs.existsSync(binary)) throw new Error(`${name} not found at ${binary}: ${setupHint}`);
    return binary;
}

/** The variables an engine run gets. The user's toolchain: none (their environment as it is). */
export function engineEnvVars(toolchain: Toolchain = selectedToolchain()): Record<string, string> {
    if (toolchain === "user") return {};
    return {
        PATH: [toolDirs.pulumi, toolDirs.shims, process.env.PATH ?? ""].join(path.delimiter),
        PULUMI_HOME: pulumiHome,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
}

function kubernetesPluginInstalled(): boolean {
    return fs.existsSync(path.join(pulumiHome, "plugins", `resource-kubernetes-v${tools.pulumiKubernetes.pluginVersion}`));
}

/** The offline toolchain's CLI: the one setup built (else a `pulumi` of the pinned version on PATH), with the plugin in the project's home. */
async function offlineCommand(): Promise<PulumiCommand> {
    const version = tools.pulumi.version.replace(/^v/, "");
    const problems: string[] = [];
    if (!kubernetesPluginInstalled()) problems.push(`the Kubernetes provider plugin ${tools.pulumiKubernetes.pluginVersion} is not installed in ${pulumiHome}`);
    const built = path.join(toolDirs.pulumi, "pulumi");
    let command: PulumiCommand | undefined;
    if (fs.existsSync(built)) {
        command = await PulumiCommand.get({ root: path.dirname(toolDirs.pulumi) });
    } else {
        command = await PulumiCommand.get().catch(() => undefined);
        if (command === undefined) problems.push(`no pulumi CLI at ${built} or on PATH`);
    }
    if (command !== undefined && command.version?.version !== version) {
        problems.push(`the pulumi CLI ${command.command} is version ${command.version?.version ?? "unknown"}, not ${version}`);
    }
    if (problems.length > 0) throw new EngineMissingError(`the Pulumi engine is not ready (${toolchainVariable}=offline): ${problems.join("; ")}. ${setupHint}`);
    return command!;
}

/** The user's CLI: the `pulumi` on PATH, of at least the required version. */
async function userCommand(requirement: CliRequirement): Promise<PulumiCommand> {
    const onPath = findOnPath("pulumi");
    if (onPath === undefined) throw new EngineMissingError(noCliMessage);
    // The SDK's own check knows only its minimum; ours names the requirement and the CLI's path.
    const command = await PulumiCommand.get({ skipVersionCheck: true });
    checkCliVersion(command.version?.version ?? "", `on PATH (${onPath})`, requirement);
    return command;
}

/** The Pulumi CLI to drive, per PAAS_TOOLCHAIN; throws EngineMissingError saying what to do. */
export async function pulumiCommand(requirement: CliRequirement = pipelineCliRequirement): Promise<PulumiCommand> {
    return selectedToolchain() === "offline" ? offlineCommand() : userCommand(requirement);
}
