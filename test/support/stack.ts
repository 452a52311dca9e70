/** Runs the project's index.ts under mocks with a given stack configuration. */
import * as path from "path";
import { projectName } from "../../components/config/primitives";
import { projectRoot, readStackFile, withSecretPlaceholders } from "./fixtures";
import { installMocks, Recorder } from "./mocks";

export interface StackRun {
    readonly recorder: Recorder;
    /** The module exports of index.ts (the stack outputs). */
    readonly outputs: Record<string, unknown>;
}

/** Runtime config as the engine hands it to the program: "project:key" → string (JSON for structured values). */
export function toRuntimeConfig(stackRaw: Record<string, unknown>): { config: Record<string, string>; secretKeys: string[] } {
    const { raw, secretKeys } = withSecretPlaceholders(stackRaw);
    const config = Object.fromEntries(Object.entries(raw).map(([key, value]) => [
        `${projectName}:${key}`,
        typeof value === "string" ? value : JSON.stringify(value),
    ]));
    return { config, secretKeys: secretKeys.map((key) => `${projectName}:${key}`) };
}

/** Installs mocks with a stack's configuration; the program is not run yet. */
export async function mockStack(raw: Record<string, unknown>, stack = "test"): Promise<Recorder> {
    const { config, secretKeys } = toRuntimeConfig(raw);
    return installMocks(config, secretKeys, stack);
}

/** Runs index.ts afresh against the installed mocks. */
export async function runProgram(recorder: Recorder): Promise<StackRun> {
    const entry = path.join(projectRoot, "index.ts");
    delete require.cache[require.resolve(entry)];
    const outputs = require(entry) as Record<string, unknown>;
    await recorder.settle();
    return { recorder, outputs };
}

export async function runStackConfig(raw: Record<string, unknown>, stack = "test"): Promise<StackRun> {
    return runProgram(await mockStack(raw, stack));
}

export function runStack(stack: string): Promise<StackRun> {
    return runStackConfig(readStackFile(stack), stack);
}
