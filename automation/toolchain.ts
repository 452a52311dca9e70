/**
 * Which Pulumi the pipeline and the broker drive, and what to tell a user whose environment is not ready.
 * By default the user's: `pulumi` on PATH, their PULUMI_HOME, plugins acquired on demand, their backend — what a
 * team's CI has. `PAAS_TOOLCHAIN=offline` chooses this project's own build instead (automation/tools.ts).
 * No Pulumi import: the pipeline's failure classification uses this module too.
 */
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";

export const toolchainVariable = "PAAS_TOOLCHAIN";
export type Toolchain = "user" | "offline";

/** The engine cannot run: no CLI, a CLI too old, or (offline) a tool not built. The message says what to do. */
export class EngineMissingError extends Error {
    override name = "EngineMissingError";
}

/** The toolchain PAAS_TOOLCHAIN chooses: unset, empty or `user` is the user's Pulumi; `offline` is this project's. */
export function selectedToolchain(env: NodeJS.ProcessEnv = process.env): Toolchain {
    const value = env[toolchainVariable] ?? "";
    if (value === "" || value === "user") return "user";
    if (value === "offline") return "offline";
    throw new EngineMissingError(
        `${toolchainVariable}='${value}' is not a toolchain: unset it (or set 'user') for the pulumi on PATH with your PULUMI_HOME and backend, ` +
            `or set 'offline' for this project's own build (bash scripts/setup.sh)`,
    );
}

/** A minimum CLI version and what needs it. */
export interface CliRequirement {
    readonly version: string;
    readonly reason: string;
}

/**
 * The oldest CLI the Automation API of @pulumi/pulumi 3.248.0 drives (its own `minimumVersion`; test/unit/tools.spec.ts
 * checks it against the SDK). The pipeline passes nothing newer.
 */
export const pipelineCliRequirement: CliRequirement = { version: "3.2.0", reason: "the Automation API of @pulumi/pulumi 3.248.0" };

const installPage = "https://www.pulumi.com/docs/iac/download-install/";

const installHint =
    `install the Pulumi CLI (${installPage}; in GitHub Actions the pulumi/actions step), ` +
    `or build this project's with 'bash scripts/setup.sh' and choose it with ${toolchainVariable}=offline`;

export const noCliMessage = `no 'pulumi' on PATH: ${installHint}`;

/** The first executable `name` on PATH, or undefined. */
export function findOnPath(name: string, pathValue = process.env.PATH ?? ""): string | undefined {
    for (const dir of pathValue.split(path.delimiter)) {
        if (dir === "") continue;
        const candidate = path.join(dir, name);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) return candidate;
        } catch {
            // not in this dir
        }
    }
    return undefined;
}

/** Refuses a CLI below the requirement, or of a major version the Automation API of this SDK does not drive. */
export function checkCliVersion(found: string, where: string, requirement: CliRequirement): void {
    // coerce drops a pre-release tag: a 3.248.0-alpha dev build counts as 3.248.0.
    const version = semver.coerce(found);
    if (version === null) throw new EngineMissingError(`the pulumi CLI ${where} reports version '${found}', which is not a version number`);
    if (version.major !== 3) {
        throw new EngineMissingError(`the pulumi CLI ${where} is version ${found}; ${requirement.reason} drives Pulumi 3.x only (at least ${requirement.version})`);
    }
    if (semver.lt(version, requirement.version)) {
        throw new EngineMissingError(`the pulumi CLI ${where} is version ${found}, below the minimum ${requirement.version} (${requirement.reason}): upgrade it (${installPage})`);
    }
}

export interface MissingPlugin {
    readonly kind: string;
    readonly name: string;
    /** The version the program's SDK asks for; analyzers have none. */
    readonly version?: string;
}

/** The plugins the engine could neither find nor acquire, from its error text. */
export function missingPlugins(text: string): MissingPlugin[] {
    const found = new Map<string, MissingPlugin>();
    const pattern = /(?:no|install) (resource|language|analyzer) plugin 'pulumi-(?:resource|language|analyzer)-([^']+)'(?: found in the workspace)?(?: at version v([^\s,]+))?/g;
    for (const match of text.matchAll(pattern)) {
        const plugin = { kind: match[1], name: match[2], version: match[3] };
        found.set(`${plugin.kind} ${plugin.name} ${plugin.version ?? ""}`, plugin);
    }
    return [...found.values()];
}

function pluginRemedy(plugin: MissingPlugin, toolchain: Toolchain): string {
    if (toolchain === "offline") {
        return "bash scripts/setup.sh builds the Kubernetes provider into the project's PULUMI_HOME and puts the dynamic-provider and policy shims on PATH (the offline toolchain downloads nothing)";
    }
    if (plugin.kind === "analyzer") {
        return `a Pulumi CLI release ships the Node.js language plugin (pulumi-language-nodejs) that runs policy packs beside 'pulumi': put that directory on PATH`;
    }
    const install = `pulumi plugin install ${plugin.kind} ${plugin.name}${plugin.version ? ` v${plugin.version}` : ""}`;
    return (
        `let the runner reach the plugin's download server (api.github.com, get.pulumi.com), point PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES at a mirror, ` +
        `or install it beforehand with '${install}' (into PULUMI_HOME, default ~/.pulumi)`
    );
}

/** What to say when plugins are missing: each plugin with the version asked for, and how to get it. */
export function missingPluginMessage(plugins: readonly MissingPlugin[], toolchain: Toolchain): string {
    return plugins
        .map((plugin) => {
            const version = plugin.version ? ` v${plugin.version} (the version the program's SDK asks for)` : "";
            return `the ${plugin.kind} plugin '${plugin.name}'${version} is not installed and could not be acquired: ${pluginRemedy(plugin, toolchain)}`;
        })
        .join("\n");
}

/** The engine's words for "no backend login", or undefined. */
export function backendLoginProblem(text: string): string | undefined {
    return /(PULUMI_ACCESS_TOKEN must be set for login[^\n]*|No credentials provided or are invalid[^\n]*|invalid access token[^\n]*)/i.exec(text)?.[1];
}

export function backendLoginMessage(engineLine: string): string {
    return (
        `not logged in to a Pulumi backend (the engine said: ${engineLine.trim()}). Set PULUMI_ACCESS_TOKEN for Pulumi Cloud, ` +
        `or PULUMI_BACKEND_URL for a self-managed backend (s3://bucket, gs://bucket, azblob://container, file://dir), ` +
        `or run 'pulumi login <url>' beforehand (its state is in PULUMI_HOME, default ~/.pulumi)`
    );
}
