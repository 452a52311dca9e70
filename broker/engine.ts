/**
 * The instance stacks through the Automation API: one LocalWorkspace per operation on the broker's project dir,
 * the inline program passed to each run (no language host), the backend and passphrase from the broker's config.
 */
import { execFile } from "child_process";
import { promisify } from "util";
import { EngineEvent, LocalWorkspace, OutputMap, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { engineEnvVars, pulumiCommand } from "../automation/tools";
import type { CliRequirement } from "../automation/toolchain";
import { instancePasswordKey, instanceProjectName } from "../components/broker/record";
import { stackNameOf, stackPrefix } from "./store";

const passwordConfigKey = `${instanceProjectName}:${instancePasswordKey}`;

const execFileAsync = promisify(execFile);

export interface EngineSettings {
    readonly workDir: string;
    /** Any Pulumi backend URL: file://DIR, s3://bucket?region=..., https://api.pulumi.com. */
    readonly backendUrl: string;
    readonly passphrase: string;
    /** PULUMI_SKIP_CHECKPOINTS: one checkpoint write per run instead of one per step (see the trade-off in docs/testing.md). */
    readonly skipCheckpoints?: boolean;
    /** Extra CLI environment (tests). */
    readonly envVars?: Record<string, string>;
}

/** `stack rm --remove-backups` (the broker removes an instance's stack without leaving its checkpoints) came in 3.188.0. */
export const brokerCliRequirement: CliRequirement = { version: "3.188.0", reason: "the broker's 'pulumi stack rm --remove-backups'" };

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

    /** Finds the CLI per PAAS_TOOLCHAIN (throws EngineMissingError saying what to do when it is missing or too old). */
    async init(): Promise<void> {
        this.command = await pulumiCommand(brokerCliRequirement);
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
    async openStack(instance: string): Promise<Stack> {
        return withoutSummaryCalls(await Stack.createOrSelect(stackNameOf(instance), await this.workspace()));
    }

    /** Selects an existing stack; undefined when the backend has none of that name. */
    async selectStack(instance: string): Promise<Stack | undefined> {
        try {
            return withoutSummaryCalls(await Stack.select(stackNameOf(instance), await this.workspace()));
        } catch (error) {
            if (/no stack named|not found|does not exist/i.test(String(error))) return undefined;
            throw error;
        }
    }

    /** The instance's web password, decrypted by the CLI from the stack's config. */
    async readPassword(stack: Stack): Promise<string> {
        return (await stack.getConfig(passwordConfigKey)).value;
    }

    /**
     * Keeps the instance's web password in the stack's config, encrypted with the backend's passphrase. The value goes
     * on stdin: Stack.setConfig puts it on the command line, where a failure's message (logged, and kept as the
     * record's lastError) would carry it.
     */
    async writePassword(stack: Stack, password: string): Promise<void> {
        await this.cli(["config", "set", passwordConfigKey, "--secret", "--non-interactive", "--stack", stack.name], password);
    }

    /** Deletes a lock left by a run that died with the broker (the broker owns its instance stacks). */
    async clearStaleLock(stack: Stack): Promise<void> {
        await stack.cancel().catch(() => undefined);
    }

    /** `up` of the inline program; outputs and changes come from the engine's event stream. */
    async up(stack: Stack, program: PulumiFn, onOutput?: (line: string) => void): Promise<RunResult> {
        const started = Date.now();
        const seen = eventCollector();
        await stack.up({ program, color: "never", onOutput, onEvent: seen.onEvent });
        return { outputs: seen.outputs, changes: seen.changes, durationMs: Date.now() - started };
    }

    /** Destroys the stack's resources; changes come from the engine's event stream. */
    async destroy(stack: Stack, onOutput?: (line: string) => void): Promise<RunResult> {
        const started = Date.now();
        const seen = eventCollector();
        await stack.destroy({ color: "never", onOutput, onEvent: seen.onEvent });
        return { outputs: {}, changes: seen.changes, durationMs: Date.now() - started };
    }

    /** Removes the stack: its state, history and config file (the instance's record). */
    async removeStack(stack: Stack): Promise<void> {
        // `stack rm` keeps a .bak of the checkpoint in a DIY backend unless told otherwise.
        await this.cli(["stack", "rm", "--yes", "--remove-backups", "--stack", stack.name]);
    }

    /** A CLI command the Automation API does not offer (or offers with the value on the command line). */
    private async cli(args: string[], input?: string): Promise<void> {
        const run = execFileAsync(this.command!.command, args, { cwd: this.settings.workDir, env: { ...process.env, ...this.envVars } });
        run.child.stdin?.end(input ?? "");
        await run;
    }
}

/**
 * Stack.up/destroy follow the run with `stack output` (twice) and `stack history`: three more CLI processes per
 * run, which on two cores cost about as much as the run itself. The broker reads the same facts from the event
 * stream instead, so those two calls answer nothing here.
 */
function withoutSummaryCalls(stack: Stack): Stack {
    const quiet = stack as unknown as { outputs: () => Promise<OutputMap>; info: () => Promise<undefined> };
    quiet.outputs = async () => ({});
    quiet.info = async () => undefined;
    return stack;
}

function eventCollector() {
    const collected = { outputs: {} as Record<string, unknown>, changes: {} as Record<string, number> };
    return {
        get outputs() {
            return collected.outputs;
        },
        get changes() {
            return collected.changes;
        },
        onEvent(event: EngineEvent) {
            const outputs = event.resOutputsEvent?.metadata;
            if (outputs?.type === "pulumi:pulumi:Stack" && outputs.new?.outputs) collected.outputs = outputs.new.outputs as Record<string, unknown>;
            if (event.summaryEvent) collected.changes = event.summaryEvent.resourceChanges as Record<string, number>;
        },
    };
}
