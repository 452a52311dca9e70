/**
 * The real StackSource: Automation API stacks whose program is this project's stack program, run *inline*
 * (the engine talks to the language runtime inside this Node process, so no Node.js language host is needed).
 * workDir is the project directory: its Pulumi.yaml and Pulumi.<stack>.yaml are the project and stack config,
 * exactly as for `pulumi up -s <stack>`.
 */
import { LocalWorkspace, LocalWorkspaceOptions, OutputMap, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { stackProgram } from "../components/program";
import type { Operation } from "./summary";
import { readProjectName, type PipelineStack, type RunOptions, type RunResult, type StackSource } from "./pipeline";
import { engineEnvVars, pulumiCommand } from "./tools";

/** Stack outputs as plain values, secrets included: for the pipeline's own use, never for the report. */
export function plainOutputs(outputs: OutputMap): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));
}

/** Stack outputs for the report: values as JSON, secrets never printed. */
export function maskOutputs(outputs: OutputMap): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const [key, output] of Object.entries(outputs)) {
        result[key] = output.secret ? "[secret]" : output.value;
    }
    return result;
}

export interface EngineOptions {
    /** The inline program (default: the project's stack program). */
    readonly program?: PulumiFn;
    /** Extra environment for the CLI: PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, PULUMI_SKIP_CHECKPOINTS... */
    readonly envVars?: Record<string, string>;
}

/** Opens (or creates) a stack of the inline program in workDir, with the offline engine environment. */
export async function openInlineStack(stackName: string, workDir: string, create: boolean, options: EngineOptions = {}): Promise<Stack> {
    const args = { stackName, projectName: readProjectName(workDir), program: options.program ?? (async () => stackProgram()) };
    const workspace: LocalWorkspaceOptions = {
        workDir,
        pulumiCommand: await pulumiCommand(),
        envVars: { ...engineEnvVars(), ...options.envVars },
    };
    return create ? LocalWorkspace.createOrSelectStack(args, workspace) : LocalWorkspace.selectStack(args, workspace);
}

class InlinePipelineStack implements PipelineStack {
    constructor(private readonly stack: Stack) {}

    async run(operation: Operation, options: RunOptions): Promise<RunResult> {
        const common = {
            onOutput: options.onOutput,
            onError: options.onError,
            onEvent: options.onEvent,
            signal: options.signal,
            color: "never" as const,
        };
        const policyPacks = options.policyPacks.length > 0 ? [...options.policyPacks] : undefined;
        switch (operation) {
            case "preview": {
                const result = await this.stack.preview({ ...common, policyPacks });
                return { changes: result.changeSummary };
            }
            case "up": {
                const result = await this.stack.up({ ...common, policyPacks });
                return { changes: result.summary.resourceChanges, deployedOutputs: plainOutputs(result.outputs) };
            }
            case "refresh": {
                const result = await this.stack.refresh(common);
                return { changes: result.summary.resourceChanges };
            }
            case "destroy": {
                const result = await this.stack.destroy(common);
                return { changes: result.summary.resourceChanges };
            }
            case "outputs":
                return { outputs: maskOutputs(await this.stack.outputs()) };
        }
    }

    async currentOutputs(): Promise<Record<string, unknown>> {
        return plainOutputs(await this.stack.outputs());
    }

    tags(): Promise<Record<string, string>> {
        return this.stack.workspace.listTags(this.stack.name);
    }

    setTag(name: string, value: string): Promise<void> {
        return this.stack.workspace.setTag(this.stack.name, name, value);
    }

    removeTag(name: string): Promise<void> {
        return this.stack.workspace.removeTag(this.stack.name, name);
    }
}

export function inlineStackSource(options: EngineOptions = {}): StackSource {
    return {
        async open(stackName, { workDir, create }) {
            return new InlinePipelineStack(await openInlineStack(stackName, workDir, create, options));
        },
    };
}
