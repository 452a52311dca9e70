/**
 * A throw-away place for real engine runs: a file backend and a project dir holding this project's Pulumi.yaml
 * and the stack files a test writes (stack init writes the passphrase salt there, never into the repository).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import type { PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { openInlineStack } from "../../automation/engine";
import { projectRoot } from "./fixtures";

export const testPassphrase = "engine-test-passphrase";

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
        // The salt binds a stack file to its passphrase: the sandbox makes its own with the test passphrase.
        delete document.encryptionsalt;
        edit(document.config);
        this.writeStackFile(as, document);
    }

    /** Edits a stack file of the sandbox in place; its salt stays, so the stack's secrets still decrypt. */
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
