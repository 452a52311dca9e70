/**
 * The real StackSource: the Automation API's LocalWorkspace over this project (a local program, so the
 * engine runs index.ts exactly as `pulumi up` would, with Pulumi.<stack>.yaml as configuration).
 */
import { LocalWorkspace, OutputMap, Stack } from "@pulumi/pulumi/automation";
import type { Operation } from "./summary";
import type { PipelineStack, RunOptions, RunResult, StackSource } from "./pipeline";

/** Stack outputs for the report: values as JSON, secrets never printed. */
export function maskOutputs(outputs: OutputMap): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const [key, output] of Object.entries(outputs)) {
        result[key] = output.secret ? "[secret]" : output.value;
    }
    return result;
}

class LocalPipelineStack implements PipelineStack {
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
                return { changes: result.summary.resourceChanges };
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
}

export const localStackSource: StackSource = {
    async open(stackName, { workDir, create }) {
        const args = { stackName, workDir };
        const stack = create ? await LocalWorkspace.createOrSelectStack(args) : await LocalWorkspace.selectStack(args);
        return new LocalPipelineStack(stack);
    },
};
