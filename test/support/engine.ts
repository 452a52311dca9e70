/**
 * A throw-away place for real engine runs: a file backend and a project dir holding this project's Pulumi.yaml
 * and the stack files a test writes (stack init writes the passphrase salt there, never into the repository).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import type { PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { openInlineStack } from "../../automation/engine";
import { projectRoot } from "./fixtures";

/** What an engine run could write into the repository by mistake: stack files (salt lines), state and manifest dirs. */
export function repoFingerprint(): string {
    const stackFiles = fs
        .readdirSync(projectRoot)
        .filter((name) => /^Pulumi(\..+)?\.ya?ml$/.test(name))
        .sort()
        .map((name) => `${name}:${crypto.createHash("sha256").update(fs.readFileSync(path.join(projectRoot, name))).digest("hex")}`);
    const strays = [".pulumi", ".pulumi-state", "out/manifests"].filter((rel) => fs.existsSync(path.join(projectRoot, rel)));
    return JSON.stringify({ stackFiles, strays });
}

/**
 * The sandbox's passphrase is the local stack's (scripts/run-local.sh): copies of Pulumi.local.yaml keep their salt,
 * so its encrypted values (instancePasswords) decrypt in the sandbox as they do for the main job.
 */
export const testPassphrase = "local-only-not-a-secret";
const stacksEncryptedWithTestPassphrase = new Set(["local"]);

export class EngineSandbox {
    readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "paas-engine-"));
    readonly backendDir = path.join(this.root, "backend");
    readonly workDir = path.join(this.root, "project");

    /** `projectFile`: the Pulumi.yaml to use (default: this project's). */
    constructor(projectFile = path.join(projectRoot, "Pulumi.yaml")) {
        fs.mkdirSync(this.backendDir);
        fs.mkdirSync(this.workDir);
        fs.copyFileSync(projectFile, path.join(this.workDir, "Pulumi.yaml"));
    }

    /** The environment of every engine run in this sandbox. */
    get envVars(): Record<string, string> {
        return { PULUMI_BACKEND_URL: `file://${this.backendDir}`, PULUMI_CONFIG_PASSPHRASE: testPassphrase };
    }

    writeStackFile(stack: string, content: unknown): void {
        fs.writeFileSync(path.join(this.workDir, `Pulumi.${stack}.yaml`), yaml.dump(content, { lineWidth: -1 }));
    }

    /** A copy of one of the repository's stack files, edited by `edit`. */
    copyStackFile(stack: string, edit: (config: Record<string, any>) => void = () => {}, as = stack): void {
        const document = yaml.load(fs.readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, any>; encryptionsalt?: string };
        // The salt binds a stack file to its passphrase: the sandbox keeps the local stack's (same passphrase) and
        // makes its own for the others.
        if (!stacksEncryptedWithTestPassphrase.has(stack)) delete document.encryptionsalt;
        edit(document.config);
        this.writeStackFile(as, document);
    }

    /** Edits the config of a stack file in the sandbox in place; its salt and secure values stay. */
    editStackFile(stack: string, edit: (config: Record<string, any>) => void): void {
        const file = path.join(this.workDir, `Pulumi.${stack}.yaml`);
        const document = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, any> };
        edit(document.config);
        this.writeStackFile(stack, document);
    }

    open(stack: string, program?: PulumiFn, envVars: Record<string, string> = {}): Promise<Stack> {
        return openInlineStack(stack, this.workDir, true, { program, envVars: { ...this.envVars, ...envVars } });
    }

    /** Resources in the stack's state, without the stack and provider entries. */
    async managedResources(stack: Stack): Promise<string[]> {
        const state = await stack.exportStack();
        const resources: { urn: string; type: string }[] = state.deployment.resources ?? [];
        return resources.filter((resource) => !resource.type.startsWith("pulumi:")).map((resource) => resource.urn);
    }

    cleanup(): void {
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}

/** A Kubernetes object a stack's state says it manages, with the inputs the provider applied. */
export interface StateObject {
    readonly urn: string;
    readonly apiVersion: string;
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
    readonly inputs: any;
}

/** The state holds secrets as {<signature>, plaintext: <JSON>} (the export shows them): their values, in place. */
function revealSecrets(value: unknown): any {
    if (Array.isArray(value)) return value.map(revealSecrets);
    if (value === null || typeof value !== "object") return value;
    const record = value as Record<string, unknown>;
    if (typeof record.plaintext === "string" && Object.keys(record).length === 2) return revealSecrets(JSON.parse(record.plaintext));
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, revealSecrets(item)]));
}

/** The Kubernetes objects among a deployment's resources (`pulumi stack export`, or a file backend's checkpoint). */
export function kubernetesStateObjects(resources: readonly { urn: string; type: string; custom?: boolean; inputs?: any; outputs?: any }[] | undefined): StateObject[] {
    return (resources ?? [])
        .filter((resource) => resource.custom && resource.type.startsWith("kubernetes:"))
        .map((resource) => ({
            urn: resource.urn,
            inputs: revealSecrets(resource.inputs),
            apiVersion: resource.outputs.apiVersion,
            kind: resource.outputs.kind,
            name: resource.outputs.metadata.name,
            namespace: resource.outputs.metadata.namespace,
        }));
}
