/**
 * The ECS configuration rollout after a successful `up`: an ECS Prometheus reads its configuration from EFS, so new
 * files reach it only when the instance's config-update task copies them there (the sidecar's reloader then
 * reloads Prometheus). The stack output `ecsConfigUpdateCommands` holds that task's `aws ecs run-task` per instance,
 * naming the published files' hash (`--started-by config-<hash>`). The stack records, per instance, the hash whose
 * update last succeeded (stack tags: kept by the backend with the stack, not in a local file); every `up` runs the
 * update of each instance whose recorded hash is not the current one, so a failed rollout is retried by the next
 * run until it succeeds. The runner sits behind ConfigRollout so the pipeline is tested with a fake.
 */
import { createHash } from "crypto";
import { execFile } from "child_process";

/** The stack output with one `aws ecs run-task` command per ECS instance. */
export const configUpdateOutput = "ecsConfigUpdateCommands";

export interface ConfigUpdate {
    readonly instance: string;
    readonly command: string;
    /** The published files' hash the command carries: what the stack records once the update succeeded. */
    readonly configHash: string;
}

export interface ConfigUpdateResult {
    readonly instance: string;
    readonly result: "ok" | "failed";
    /** The update task, once ECS started one. */
    readonly taskArn: string | null;
    readonly message: string;
}

export interface ConfigRollout {
    /** Runs one instance's config-update task and waits until it stopped; never throws for an AWS failure. */
    run(update: ConfigUpdate, signal?: AbortSignal): Promise<ConfigUpdateResult>;
}

function commands(outputs: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
    const value = outputs?.[configUpdateOutput];
    if (value === null || typeof value !== "object") return {};
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** The `--started-by` of an update command (the published files' hash), or the command's own hash without one. */
export function configHashOf(command: string): string {
    return /(?:^|\s)--started-by[ =](\S+)/.exec(command)?.[1] ?? `command-${createHash("sha256").update(command).digest("hex").slice(0, 16)}`;
}

/**
 * Stack tags hold the record, one per instance. Tag names allow 40 characters of [A-Za-z0-9-_.:] (the Pulumi
 * Cloud's rule, which the DIY backends accept too) and an instance name alone may take 40: the name carries a digest
 * of the instance's name, the value the instance and the hash, for an operator reading `pulumi stack tag ls`.
 */
export const rolloutTagPrefix = "paas:ecs-config:";

export function rolloutTagName(instance: string): string {
    return `${rolloutTagPrefix}${createHash("sha256").update(instance).digest("hex").slice(0, 16)}`;
}

export function rolloutTagValue(instance: string, configHash: string): string {
    return `${instance} ${configHash}`;
}

/** The recorded hash per instance, from the stack's tags (other tags, and values of another form, are ignored). */
export function recordedConfigHashes(tags: Readonly<Record<string, string>>): Record<string, string> {
    const recorded: Record<string, string> = {};
    for (const [name, value] of Object.entries(tags)) {
        const [instance, hash, ...rest] = value.split(" ");
        if (name.startsWith(rolloutTagPrefix) && hash !== undefined && rest.length === 0 && name === rolloutTagName(instance)) recorded[instance] = hash;
    }
    return recorded;
}

/**
 * The updates an `up` leaves to run: every instance whose current hash is not the one recorded as rolled out (a new
 * instance too: the copy is idempotent and cheap, a missed one is not), sorted by instance.
 */
export function pendingConfigUpdates(deployed: Readonly<Record<string, unknown>>, recorded: Readonly<Record<string, string>>): ConfigUpdate[] {
    return Object.entries(commands(deployed))
        .map(([instance, command]) => ({ instance, command, configHash: configHashOf(command) }))
        .filter((update) => recorded[update.instance] !== update.configHash)
        .sort((a, b) => a.instance.localeCompare(b.instance));
}

/** Recorded instances the stack no longer has: their tags go. */
export function staleRecords(deployed: Readonly<Record<string, unknown>>, recorded: Readonly<Record<string, string>>): string[] {
    const current = commands(deployed);
    return Object.keys(recorded).filter((instance) => !(instance in current)).sort();
}

export interface ExecResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export type Exec = (file: string, args: readonly string[], signal?: AbortSignal) => Promise<ExecResult>;

/** child_process.execFile, resolving with the exit code instead of rejecting on a non-zero one. */
export const execProcess: Exec = (file, args, signal) =>
    new Promise((resolve) => {
        execFile(file, [...args], { signal, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 127;
            resolve({ code, stdout, stderr: stderr || (error && typeof error.code !== "number" ? error.message : "") });
        });
    });

function lastLines(text: string, count = 5): string {
    return text.trim().split("\n").slice(-count).join(" | ");
}

/**
 * The real rollout with the AWS CLI: the stack's own run-task command (as an operator would paste it), then
 * `aws ecs wait tasks-stopped` and `aws ecs describe-tasks` for the copy's exit code.
 */
export class AwsCliConfigRollout implements ConfigRollout {
    constructor(private readonly exec: Exec = execProcess) {}

    async run(update: ConfigUpdate, signal?: AbortSignal): Promise<ConfigUpdateResult> {
        const failed = (message: string, taskArn: string | null = null): ConfigUpdateResult => ({ instance: update.instance, result: "failed", taskArn, message });
        const started = await this.exec("sh", ["-c", `${update.command} --output json`], signal);
        if (started.code !== 0) return failed(`aws ecs run-task failed (exit ${started.code}): ${lastLines(started.stderr || started.stdout)}`);
        let response: { tasks?: { taskArn?: string; clusterArn?: string }[]; failures?: { arn?: string; reason?: string; detail?: string }[] };
        try {
            response = JSON.parse(started.stdout);
        } catch {
            return failed(`aws ecs run-task printed no JSON: ${lastLines(started.stdout)}`);
        }
        const task = response.tasks?.[0];
        if ((response.failures ?? []).length > 0 || task?.taskArn === undefined || task.clusterArn === undefined) {
            const reasons = (response.failures ?? []).map((failure) => [failure.reason, failure.detail, failure.arn].filter(Boolean).join(" ")).join("; ");
            return failed(`ECS started no task: ${reasons || "no task in the answer"}`);
        }
        const region = task.taskArn.split(":")[3];
        const where = ["--region", region, "--cluster", task.clusterArn, "--tasks", task.taskArn];
        const waited = await this.exec("aws", ["ecs", "wait", "tasks-stopped", ...where], signal);
        if (waited.code !== 0) return failed(`the task did not stop within the AWS CLI waiter's time (exit ${waited.code}): ${lastLines(waited.stderr)}`, task.taskArn);
        const described = await this.exec("aws", ["ecs", "describe-tasks", ...where, "--output", "json"], signal);
        if (described.code !== 0) return failed(`aws ecs describe-tasks failed (exit ${described.code}): ${lastLines(described.stderr)}`, task.taskArn);
        const stopped = (JSON.parse(described.stdout) as { tasks?: { stoppedReason?: string; containers?: { name: string; exitCode?: number; reason?: string }[] }[] }).tasks?.[0];
        const copy = stopped?.containers?.find((container) => container.name === "config-update");
        if (copy?.exitCode === 0) return { instance: update.instance, result: "ok", taskArn: task.taskArn, message: "configuration copied onto EFS; the sidecar reloads Prometheus at its next check" };
        const why = [copy?.exitCode !== undefined ? `exit code ${copy.exitCode}` : "no exit code", copy?.reason, stopped?.stoppedReason].filter(Boolean).join(", ");
        return failed(`the config-update container failed (${why}); see its CloudWatch log stream config-update`, task.taskArn);
    }
}
