/**
 * The instance stacks through the Automation API: one LocalWorkspace per operation on the broker's project dir,
 * the inline program passed to each run (no language host), the backend and passphrase from the broker's config.
 */
import { LocalWorkspace, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { engineEnvVars, pulumiCommand } from "../automation/tools";
import { stackNameOf, stackPrefix } from "./store";

export interface EngineSettings {
    readonly workDir: string;
    /** Any Pulumi backend URL: file://DIR, s3://bucket?region=..., https://api.pulumi.com. */
    readonly backendUrl: string;
    readonly passphrase: string;
    /** PULUMI_SKIP_CHECKPOINTS: one checkpoint write per run instead of one per step (see the README's trade-off). */
    readonly skipCheckpoints?: boolean;
    /** Extra CLI environment (tests). */
    readonly envVars?: Record<string, string>;
}

export interface RunResult {
    readonly outputs: Record<string, unknown>;
    readonly changes: Record<string, number>;
    readonly durationMs: number;
}

export class InstanceEngine {
    private command?: PulumiCommand;

    constructor(readonly settings: EngineSettings) {}

    private get envVars(): Record<string, string> {
        return {
            ...engineEnvVars(),
            PULUMI_BACKEND_URL: this.settings.backendUrl,
            PULUMI_CONFIG_PASSPHRASE: this.settings.passphrase,
            ...(this.settings.skipCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {}),
            ...this.settings.envVars,
        };
    }

    /** Finds the CLI (throws EngineMissingError naming the setup command when it is not there). */
    async init(): Promise<void> {
        this.command = await pulumiCommand();
    }

    private workspace(): Promise<LocalWorkspace> {
        if (!this.command) throw new Error("InstanceEngine.init() was not called");
        return LocalWorkspace.create({ workDir: this.settings.workDir, pulumiCommand: this.command, envVars: this.envVars });
    }

    /** Instance names of the stacks the backend holds for the instance project. */
    async listInstances(): Promise<string[]> {
        const stacks = await (await this.workspace()).listStacks();
        return stacks.map((stack) => stack.name.split("/").pop()!).filter((name) => name.startsWith(stackPrefix)).map((name) => name.slice(stackPrefix.length));
    }

    /** Creates the stack in the backend when it is new (the CLI writes the secrets salt into its config file). */
    async ensureStack(instance: string): Promise<Stack> {
        return Stack.createOrSelect(stackNameOf(instance), await this.workspace());
    }

    /** Deletes a lock left by a run that died with the broker (the broker owns its instance stacks). */
    async clearStaleLock(instance: string): Promise<void> {
        const workspace = await this.workspace();
        const exists = (await workspace.listStacks()).some((stack) => stack.name.split("/").pop() === stackNameOf(instance));
        if (!exists) return;
        const stack = await Stack.select(stackNameOf(instance), workspace);
        await stack.cancel().catch(() => undefined);
    }

    async up(instance: string, program: PulumiFn, onOutput?: (line: string) => void): Promise<RunResult> {
        const started = Date.now();
        const stack = await this.ensureStack(instance);
        const result = await stack.up({ program, color: "never", onOutput });
        return {
            outputs: Object.fromEntries(Object.entries(result.outputs).map(([key, output]) => [key, output.secret ? "[secret]" : output.value])),
            changes: (result.summary.resourceChanges ?? {}) as Record<string, number>,
            durationMs: Date.now() - started,
        };
    }

    /** Destroys the stack's resources, then removes the stack (its state, history and config file). */
    async destroyAndRemove(instance: string, onOutput?: (line: string) => void): Promise<RunResult> {
        const started = Date.now();
        const workspace = await this.workspace();
        const name = stackNameOf(instance);
        const exists = (await workspace.listStacks()).some((stack) => stack.name.split("/").pop() === name);
        let changes: Record<string, number> = {};
        if (exists) {
            const stack = await Stack.select(name, workspace);
            const result = await stack.destroy({ color: "never", onOutput });
            changes = (result.summary.resourceChanges ?? {}) as Record<string, number>;
            await workspace.removeStack(name);
        }
        return { outputs: {}, changes, durationMs: Date.now() - started };
    }
}
