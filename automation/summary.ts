/**
 * The pipeline's report: what happened to each stack, as a table for people and as JSON for CI.
 * Pure: no Pulumi imports, so the schema and the exit-code rule are tested without an engine.
 */
import type { ConfigUpdateResult } from "./rollout";

export const operations = ["preview", "up", "refresh", "destroy", "outputs"] as const;
export type Operation = (typeof operations)[number];

/** Operations that change the stack's state; they need --yes (or a person at a terminal). */
export const mutatingOperations: readonly Operation[] = ["up", "refresh", "destroy"];

export type StackResult = "ok" | "failed" | "skipped";

/**
 * Why a stack failed. `config` is the only kind that maps to exit code 2: it means "fix the stack file",
 * while every other kind means "look at the engine, the backend or the environment".
 */
export type FailureKind =
    | "config" // the program rejected its configuration (ConfigError) or the engine rejected a config type
    | "policy" // a mandatory policy was violated
    | "locked" // another update held the stack's lock for longer than --lock-timeout
    | "stack-not-found" // the stack does not exist in the backend and --create was not given
    | "cli-missing" // no pulumi CLI, one below the minimum, or (offline toolchain) the tools not built
    | "backend-login" // no Pulumi backend to talk to: no PULUMI_ACCESS_TOKEN, PULUMI_BACKEND_URL or `pulumi login`
    | "plugin-missing" // a plugin the program needs is neither installed nor acquirable
    | "interrupted" // SIGINT/SIGTERM while the operation ran
    | "rollout" // `up` succeeded but an ECS instance's config-update task failed
    | "engine"; // anything else the engine reported

export interface PolicyViolation {
    /** Enforcement level as the engine reports it: mandatory, advisory, remediate. */
    readonly level: string;
    readonly policyPack: string;
    readonly policy: string;
    readonly message: string;
    /** The policy's description, when the engine sent it with the message. */
    readonly description: string | null;
    /** URN of the offending resource; null for stack-level policies. */
    readonly resourceUrn: string | null;
    /** low, medium, high or critical when the policy declares one; else null. */
    readonly severity: string | null;
}

export interface StackFailure {
    readonly kind: FailureKind;
    /** One or more lines for a person: what failed and what to do about it. */
    readonly message: string;
    /** For kind `config`: each offending key as `prometheus-paas:<key>: <problem>` (or the engine's own line). */
    readonly configProblems: string[];
}

export interface StackSummary {
    readonly stack: string;
    readonly operation: Operation;
    readonly result: StackResult;
    /** Resource count per step kind (create, update, delete, replace, same, ...); zero counts are left out. */
    readonly changes: Record<string, number>;
    readonly durationMs: number;
    /** Engine runs; more than 1 means the stack was locked and the pipeline waited. */
    readonly attempts: number;
    readonly policyViolations: PolicyViolation[];
    readonly error: StackFailure | null;
    /** Only for the `outputs` operation: stack outputs, secrets replaced by "[secret]". */
    readonly outputs?: Record<string, unknown>;
    /** Only for `up`, when ECS instances' configuration changed: the config-update task run for each. */
    readonly configUpdates?: ConfigUpdateResult[];
}

export interface PipelineSummary {
    readonly schemaVersion: 1;
    readonly operation: Operation;
    readonly workDir: string;
    readonly policyPacks: string[];
    readonly startedAt: string;
    readonly durationMs: number;
    readonly exitCode: number;
    readonly stacks: StackSummary[];
}

export const exitCodes = {
    ok: 0,
    /** Engine, lock, policy, missing stack or CLI, usage: anything but configuration. */
    failure: 1,
    /** Every failed stack failed on its configuration. */
    config: 2,
} as const;

export function hasMandatoryViolation(stack: Pick<StackSummary, "policyViolations">): boolean {
    return stack.policyViolations.some((violation) => violation.level === "mandatory");
}

/**
 * 0 when every stack succeeded with no mandatory violation; 2 when every failure is a configuration error
 * (the fix is in Pulumi.<stack>.yaml); 1 otherwise. Skipped stacks do not count: they follow a failure.
 */
export function exitCodeFor(stacks: readonly StackSummary[]): number {
    const failures = stacks.filter((stack) => stack.result === "failed" || hasMandatoryViolation(stack));
    if (failures.length === 0) return exitCodes.ok;
    return failures.every((stack) => stack.error?.kind === "config") ? exitCodes.config : exitCodes.failure;
}

const changeOrder = ["create", "update", "replace", "delete", "create-replacement", "delete-replaced", "import", "read", "refresh", "discard", "same"];

export function orderedChanges(changes: Record<string, number>): [string, number][] {
    const rank = (op: string) => (changeOrder.includes(op) ? changeOrder.indexOf(op) : changeOrder.length);
    return Object.entries(changes)
        .filter(([, count]) => count > 0)
        .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

function formatChanges(stack: StackSummary): string {
    if (stack.result === "skipped") return "-";
    const entries = orderedChanges(stack.changes);
    return entries.length === 0 ? "-" : entries.map(([op, count]) => `${op}=${count}`).join(" ");
}

function formatPolicy(stack: StackSummary): string {
    const mandatory = stack.policyViolations.filter((v) => v.level === "mandatory").length;
    return `${mandatory}/${stack.policyViolations.length - mandatory}`;
}

function pad(rows: string[][]): string[] {
    const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
    return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join("  ").trimEnd());
}

/** Human-readable report: one row per stack, then the details (violations, errors, outputs) below it. */
export function renderTable(summary: PipelineSummary): string {
    const header = ["STACK", "OPERATION", "RESULT", "ATTEMPTS", "DURATION(ms)", "POLICY(mandatory/other)", "CHANGES"];
    const rows = summary.stacks.map((stack) => [
        stack.stack,
        stack.operation,
        stack.result,
        String(stack.attempts),
        String(stack.durationMs),
        formatPolicy(stack),
        formatChanges(stack),
    ]);
    const lines = pad([header, ...rows]);
    for (const stack of summary.stacks) {
        if (stack.policyViolations.length > 0) {
            lines.push("", `${stack.stack}: policy violations`);
            for (const v of stack.policyViolations) {
                const level = v.severity ? `${v.level}, ${v.severity}` : v.level;
                lines.push(`  [${level}] ${v.policyPack}/${v.policy}: ${v.message.trim().replace(/\s*\n\s*/g, " ")}`);
                lines.push(`      resource: ${v.resourceUrn ?? "(stack)"}`);
            }
        }
        if (stack.configUpdates) {
            lines.push("", `${stack.stack}: ECS configuration rollout`);
            for (const update of stack.configUpdates) {
                lines.push(`  ${update.instance}: ${update.result}${update.taskArn ? ` (${update.taskArn})` : ""}: ${update.message}`);
            }
        }
        if (stack.error) {
            lines.push("", `${stack.stack}: ${stack.result} (${stack.error.kind})`);
            lines.push(...stack.error.message.split("\n").map((line) => `  ${line}`));
        }
        if (stack.outputs) {
            lines.push("", `${stack.stack}: outputs`);
            const keys = Object.keys(stack.outputs).sort();
            if (keys.length === 0) lines.push("  (none)");
            for (const key of keys) lines.push(`  ${key} = ${JSON.stringify(stack.outputs[key])}`);
        }
    }
    const verdict =
        summary.exitCode === exitCodes.ok ? "ok" : summary.exitCode === exitCodes.config ? "failed: configuration errors" : "failed";
    lines.push("", `${summary.operation}: ${verdict} (exit code ${summary.exitCode}, ${summary.durationMs} ms)`);
    return lines.join("\n") + "\n";
}

export function renderJson(summary: PipelineSummary): string {
    return JSON.stringify(summary, null, 2) + "\n";
}
