/**
 * The pipeline's logic: run one operation on each stack in turn, wait out locks, classify failures and
 * collect a summary. The engine sits behind StackSource/PipelineStack (automation/engine.ts: Automation API
 * stacks of the inline program), so this module is unit-tested with a fake as well as through the engine.
 */
import * as fs from "fs";
import * as path from "path";
import type { EngineEvent, OpMap } from "@pulumi/pulumi/automation";
import { ConfigRollout, ConfigUpdate, ConfigUpdateResult, pendingConfigUpdates, recordedConfigHashes, rolloutTagName, rolloutTagValue, staleRecords } from "./rollout";
import { backendLoginMessage, backendLoginProblem, missingPluginMessage, missingPlugins, noCliMessage, selectedToolchain, Toolchain } from "./toolchain";
import {
    exitCodeFor,
    FailureKind,
    hasMandatoryViolation,
    mutatingOperations,
    Operation,
    PipelineSummary,
    PolicyViolation,
    StackFailure,
    StackSummary,
} from "./summary";

/** Project name used when the work dir's Pulumi.yaml cannot be read; config keys are prefixed with it. */
export const defaultProjectName = "prometheus-paas";

export interface RunOptions {
    readonly policyPacks: readonly string[];
    /** Engine stdout, in arbitrary chunks. */
    readonly onOutput: (text: string) => void;
    /** Engine stderr, in arbitrary chunks. */
    readonly onError: (text: string) => void;
    readonly onEvent: (event: EngineEvent) => void;
    readonly signal: AbortSignal;
}

export interface RunResult {
    /** Resource changes as the engine summarised them (used when no summary event arrived). */
    readonly changes?: OpMap;
    /** For the `outputs` operation: what the summary shows (secrets masked). */
    readonly outputs?: Record<string, unknown>;
    /** For `up`: the stack outputs after the update, plain values (never printed). */
    readonly deployedOutputs?: Record<string, unknown>;
}

/** One selected stack. Implementations throw the Automation API's errors (ConcurrentUpdateError, ...). */
export interface PipelineStack {
    run(operation: Operation, options: RunOptions): Promise<RunResult>;
    /** The current stack outputs, plain values (never printed); empty for a stack never deployed. */
    currentOutputs(): Promise<Record<string, unknown>>;
    /** The stack's tags, kept by the backend with the stack (the ECS rollout record lives there). */
    tags(): Promise<Record<string, string>>;
    setTag(name: string, value: string): Promise<void>;
    removeTag(name: string): Promise<void>;
}

export interface StackSource {
    /** Selects the stack (LocalWorkspace.selectStack), or creates it when `create` (createOrSelectStack). */
    open(stackName: string, options: { readonly workDir: string; readonly create: boolean }): Promise<PipelineStack>;
}

export interface PipelineRequest {
    readonly operation: Operation;
    readonly stacks: readonly string[];
    readonly workDir: string;
    readonly policyPacks: readonly string[];
    readonly create: boolean;
    /** How long to keep retrying a locked stack, in seconds; 0 fails on the first lock. */
    readonly lockTimeoutSeconds: number;
    /** Continue with the next stacks after a failed up/refresh/destroy (default: skip them). */
    readonly keepGoing: boolean;
    readonly signal?: AbortSignal;
}

export interface PipelineDeps {
    readonly source: StackSource;
    /** Human-readable progress: prefixed engine output and pipeline notes. */
    readonly log: (text: string) => void;
    readonly now: () => number;
    readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
    /** In [0, 1): jitter for the lock backoff so pipelines waiting on the same stack do not retry in step. */
    readonly random: () => number;
    /** Project name for config-key extraction and lock paths; default: read from <workDir>/Pulumi.yaml. */
    readonly projectName?: string;
    /** Runs the config-update task of each ECS instance whose configuration is not rolled out yet; absent: none is run. */
    readonly rollout?: ConfigRollout;
}

export const lockBackoff = { initialMs: 2_000, maxMs: 30_000, factor: 2, jitter: 0.2 } as const;

/** Delay before retry number `attempt` (1-based): 2s, 4s, 8s, ... capped at 30s, each +-20%. */
export function lockRetryDelayMs(attempt: number, random: () => number): number {
    const base = Math.min(lockBackoff.maxMs, lockBackoff.initialMs * lockBackoff.factor ** (attempt - 1));
    return Math.round(base * (1 - lockBackoff.jitter + 2 * lockBackoff.jitter * random()));
}

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
        function done() {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        }
    });
}

/**
 * Why a mutating operation may not run, or undefined when it may. Without --yes only a person at a
 * terminal can confirm; in CI (stdin not a TTY) the pipeline refuses instead of hanging or guessing.
 */
export function confirmationProblem(operation: Operation, stacks: readonly string[], yes: boolean, stdinIsTTY: boolean): string | undefined {
    if (!mutatingOperations.includes(operation) || yes || stdinIsTTY) return undefined;
    return (
        `refusing to run '${operation}' on ${stacks.map((s) => `'${s}'`).join(", ")} without --yes: stdin is not a terminal, ` +
        `so nobody can confirm. Pass --yes to apply non-interactively (CI), or run 'preview' first to see the changes.`
    );
}

const stackNamePattern = /^([A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]+$/;

/** Problems with the arguments that are cheaper to report before starting any engine. */
export function requestProblems(request: {
    readonly stacks: readonly string[];
    readonly cwd: string;
    readonly policyPacks: readonly string[];
}): string[] {
    const problems: string[] = [];
    if (request.stacks.length === 0) {
        problems.push("no stack given: pass --stack <name> (repeatable) or list the stacks as arguments, e.g. `preview dev prod`.");
    }
    for (const stack of request.stacks) {
        if (!stackNamePattern.test(stack)) {
            problems.push(`invalid stack name '${stack}': use letters, digits, '-', '_', '.' (optionally org/project/stack).`);
        }
    }
    if (!["Pulumi.yaml", "Pulumi.yml"].some((file) => fs.existsSync(path.join(request.cwd, file)))) {
        problems.push(`no Pulumi.yaml in ${request.cwd}: --cwd must be the project directory.`);
    }
    for (const pack of request.policyPacks) {
        if (!fs.existsSync(path.join(pack, "PulumiPolicy.yaml"))) {
            problems.push(`policy pack ${pack} has no PulumiPolicy.yaml: --policy-pack takes the pack's directory.`);
        } else if (fs.existsSync(path.join(pack, "package.json")) && !fs.existsSync(path.join(pack, "node_modules"))) {
            problems.push(`policy pack ${pack} has no node_modules: run \`npm ci\` in ${pack} first.`);
        }
    }
    return problems;
}

/** Splits chunked engine output into lines and prefixes each with the stack name. */
export class LinePrefixer {
    private pending = "";

    constructor(
        private readonly prefix: string,
        private readonly write: (text: string) => void,
    ) {}

    push(chunk: string): void {
        const text = this.pending + chunk;
        const lines = text.split(/\r?\n/);
        this.pending = lines.pop() ?? "";
        if (lines.length > 0) this.write(lines.map((line) => `${this.prefix}${line}\n`).join(""));
    }

    flush(): void {
        if (this.pending !== "") this.write(`${this.prefix}${this.pending}\n`);
        this.pending = "";
    }
}

/** What the pipeline keeps from the engine's event stream. */
export class EventCollector {
    readonly violations: PolicyViolation[] = [];
    readonly errorDiagnostics: string[] = [];
    summaryChanges: OpMap | undefined;

    readonly handle = (event: EngineEvent): void => {
        const policy = event.policyEvent;
        if (policy) {
            // @pulumi/policy sends "<policy description>\n<violation message>".
            const [first, ...rest] = stripAnsi(policy.message).trim().split("\n");
            this.violations.push({
                level: policy.enforcementLevel,
                policyPack: policy.policyPackVersion ? `${policy.policyPackName}@${policy.policyPackVersion}` : policy.policyPackName,
                policy: policy.policyName,
                message: (rest.length > 0 ? rest.join("\n") : first).trim(),
                description: rest.length > 0 ? first.trim() : null,
                resourceUrn: policy.resourceUrn || null,
                // Newer engines send a severity; the SDK's PolicyEvent type predates it.
                severity: (policy as { severity?: string }).severity || null,
            });
        }
        const diagnostic = event.diagnosticEvent;
        if (diagnostic && diagnostic.severity === "error") {
            this.errorDiagnostics.push(stripAnsi(diagnostic.message).trim());
        }
        if (event.summaryEvent) {
            this.summaryChanges = event.summaryEvent.resourceChanges;
        }
    };
}

export function stripAnsi(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").replace(/<\{%reset%\}>|<\{%[a-z]+%\}>/g, "");
}

function errorText(err: unknown): string {
    if (err instanceof Error) return stripAnsi(err.message);
    return stripAnsi(String(err));
}

function errorName(err: unknown): string {
    return err instanceof Error ? err.name : "";
}

export function isConcurrentUpdate(err: unknown): boolean {
    return errorName(err) === "ConcurrentUpdateError";
}

export function isStackNotFound(err: unknown): boolean {
    return errorName(err) === "StackNotFoundError";
}

/** The engine cannot run here: no (right) CLI or plugin (EngineMissingError), or the CLI vanished (spawn ENOENT). */
export function isCliMissing(err: unknown): boolean {
    return errorName(err) === "EngineMissingError" || /\bspawn\s+\S*pulumi\S*\s+ENOENT\b/.test(errorText(err));
}

/**
 * Configuration problems named in engine output: the program's ConfigError lines (`<project>:<key>: problem`)
 * and the engine's own checks against the types declared in Pulumi.yaml. Deduplicated, in order.
 */
export function extractConfigProblems(text: string, projectName: string = defaultProjectName): string[] {
    const clean = stripAnsi(text);
    const problems: string[] = [];
    const escaped = projectName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const programLine = new RegExp(`(${escaped}:[A-Za-z0-9_.\\[\\]-]*[A-Za-z0-9_\\]]: .*?)\\s*$`);
    const programThrewConfigError = /ConfigError|invalid stack configuration/.test(clean);
    const engineChecks = [
        /(Stack '[^']+' is missing configuration values? .*?)\s*$/,
        /(Stack '[^']+' with configuration key '[^']+' must be .*?)\s*$/,
        /(Missing required configuration variable '[^']+'.*?)\s*$/,
    ];
    for (const rawLine of clean.split(/\r?\n/)) {
        const line = rawLine.replace(/\\n/g, "\n");
        for (const part of line.split("\n")) {
            const match = (programThrewConfigError ? programLine.exec(part) : null) ?? engineChecks.map((re) => re.exec(part)).find(Boolean);
            if (match && !problems.includes(match[1])) problems.push(match[1]);
        }
    }
    return problems;
}

/** The engine's own `error:` lines (or diagnostics), without the Automation API's wrapping. */
export function engineErrorLines(text: string, diagnostics: readonly string[] = []): string[] {
    const fromDiagnostics = diagnostics.flatMap((d) => d.split("\n")).map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
    if (fromDiagnostics.length > 0) return dedupe(fromDiagnostics).slice(0, 30);
    const lines = stripAnsi(text).split(/\r?\n/).map((l) => l.trimEnd());
    // The Automation API's CommandResult text puts the first stderr line right after " stderr: ".
    const errors: string[] = [];
    let numbered = false; // the items after "error: N errors occurred:"
    for (const line of lines) {
        const error = /^\s*(?:(?:stdout|stderr):\s*)*(error: .*)$/.exec(line)?.[1];
        if (error !== undefined) {
            errors.push(error);
            numbered = /errors? occurred:$/.test(error);
        } else if (numbered && /^\s+\d+\) /.test(line)) {
            errors.push(line.trim());
        } else {
            numbered = false;
        }
    }
    if (errors.length > 0) return dedupe(errors);
    return lines.filter((l) => l.trim() !== "" && !/^\s*(code|stdout|stderr|err\?):\s*$/.test(l)).slice(-15);
}

function dedupe(lines: string[]): string[] {
    return lines.filter((line, index) => lines.indexOf(line) === index);
}

export function readProjectName(workDir: string): string {
    try {
        const text = fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8");
        const match = /^name:\s*["']?([A-Za-z0-9_.-]+)["']?\s*$/m.exec(text);
        return match ? match[1] : defaultProjectName;
    } catch {
        return defaultProjectName;
    }
}

function backendLockHint(stack: string, projectName: string): string {
    const backend = process.env.PULUMI_BACKEND_URL ?? "";
    const stackName = stack.split("/").pop()!;
    const lockDir = `.pulumi/locks/organization/${projectName}/${stackName}/`;
    if (backend.startsWith("file://")) {
        const root = backend.slice("file://".length).replace(/\/+$/, "") || "~";
        return `With this file backend a stale lock is a file in ${path.posix.join(root, lockDir)}; delete it only when no pulumi process is using the stack.`;
    }
    return `With a file (DIY) backend a stale lock is a file under <backend>/${lockDir}; delete it only when no pulumi process is using the stack.`;
}

export function lockedMessage(stack: string, waitedMs: number, attempts: number, timeoutSeconds: number, err: unknown, projectName: string): string {
    const holders = dedupe(
        errorText(err)
            .split(/\r?\n/)
            .map((l) => l.trim())
            .filter((l) => /created by .*\(pid \d+\)/.test(l)),
    );
    return [
        `stack '${stack}' is locked by another update; still locked after waiting ${Math.round(waitedMs / 1000)}s (--lock-timeout ${timeoutSeconds}s, ${attempts} attempts).`,
        ...holders.map((h) => `lock: ${h}`),
        `If no update is running any more (a crashed or killed pipeline), release the lock: pulumi cancel --stack ${stack} --yes`,
        `(run it in the project directory with the same PULUMI_BACKEND_URL). ${backendLockHint(stack, projectName)}`,
    ].join("\n");
}

export function stackNotFoundMessage(stack: string, workDir: string): string {
    const backend = process.env.PULUMI_BACKEND_URL ? `PULUMI_BACKEND_URL=${process.env.PULUMI_BACKEND_URL}` : "the backend of `pulumi whoami -v`";
    return (
        `stack '${stack}' does not exist in ${backend} (project in ${workDir}). ` +
        `Pass --create to create it (its config comes from Pulumi.${stack.split("/").pop()}.yaml), or check the backend and the stack name.`
    );
}

function failure(kind: FailureKind, message: string, configProblems: string[] = []): StackFailure {
    return { kind, message, configProblems };
}

/** Turns an error thrown by the engine (after lock retries) into a StackFailure. */
export function classifyFailure(
    err: unknown,
    context: {
        stack: string;
        workDir: string;
        projectName: string;
        collector: EventCollector;
        interrupted: boolean;
        waitedMs: number;
        attempts: number;
        lockTimeoutSeconds: number;
        /** Default: the one PAAS_TOOLCHAIN selects. */
        toolchain?: Toolchain;
    },
): StackFailure {
    const text = errorText(err);
    if (context.interrupted) return failure("interrupted", `interrupted: the operation on '${context.stack}' was cancelled (SIGINT/SIGTERM).`);
    if (isCliMissing(err)) return failure("cli-missing", errorName(err) === "EngineMissingError" ? text : noCliMessage);
    const login = backendLoginProblem(text);
    if (login !== undefined) return failure("backend-login", backendLoginMessage(login));
    if (isStackNotFound(err)) return failure("stack-not-found", stackNotFoundMessage(context.stack, context.workDir));
    if (isConcurrentUpdate(err)) {
        return failure("locked", lockedMessage(context.stack, context.waitedMs, context.attempts, context.lockTimeoutSeconds, err, context.projectName));
    }
    const configProblems = extractConfigProblems([text, ...context.collector.errorDiagnostics].join("\n"), context.projectName);
    if (configProblems.length > 0) {
        return failure(
            "config",
            [`invalid configuration for stack '${context.stack}' (fix Pulumi.${context.stack.split("/").pop()}.yaml):`, ...configProblems.map((p) => `  ${p}`)].join("\n"),
            configProblems,
        );
    }
    if (context.collector.violations.some((v) => v.level === "mandatory")) {
        const count = context.collector.violations.filter((v) => v.level === "mandatory").length;
        return failure("policy", `${count} mandatory policy violation(s); see the list above. The engine stopped the operation.`);
    }
    const lines = engineErrorLines(text, context.collector.errorDiagnostics);
    if (lines.length === 0) lines.push("the engine failed without a message");
    const plugins = missingPlugins([text, ...context.collector.errorDiagnostics].join("\n"));
    if (plugins.length > 0) return failure("plugin-missing", [missingPluginMessage(plugins, context.toolchain ?? selectedToolchain()), ...lines].join("\n"));
    return failure("engine", lines.join("\n"));
}

function nonZero(changes: OpMap | undefined): Record<string, number> {
    const result: Record<string, number> = {};
    for (const [op, count] of Object.entries(changes ?? {})) {
        if (typeof count === "number" && count > 0) result[op] = count;
    }
    return result;
}

/**
 * After a successful `up`: runs the config-update task of each ECS instance whose configuration the stack has not
 * recorded as rolled out, one after another, records each success in the stack and forgets removed instances.
 */
async function rollOut(stackName: string, stack: PipelineStack, rollout: ConfigRollout, deployed: Record<string, unknown>, deps: PipelineDeps, signal: AbortSignal): Promise<ConfigUpdateResult[]> {
    const log = (line: string) => deps.log(`[${stackName}] ${line}\n`);
    const recorded: Record<string, string> = await stack.tags().then(recordedConfigHashes, (e: unknown) => {
        log(`could not read the stack's rollout record (${errorText(e).split("\n")[0]}): every ECS instance's configuration is updated`);
        return {};
    });
    const results: ConfigUpdateResult[] = [];
    for (const update of pendingConfigUpdates(deployed, recorded)) {
        if (signal.aborted) {
            results.push({ instance: update.instance, result: "failed", taskArn: null, message: "interrupted before the update ran" });
            continue;
        }
        log(`configuration ${update.configHash} of ECS instance '${update.instance}' is not rolled out (recorded: ${recorded[update.instance] ?? "none"}): running its config-update task`);
        const result = await rollout.run(update, signal).catch((e: unknown): ConfigUpdateResult => ({ instance: update.instance, result: "failed", taskArn: null, message: errorText(e) }));
        results.push(result.result === "ok" ? await record(stack, update, result, log) : result);
        log(`config update of '${update.instance}': ${result.result}${result.taskArn ? ` (${result.taskArn})` : ""}: ${result.message}`);
    }
    for (const instance of staleRecords(deployed, recorded)) {
        await stack.removeTag(rolloutTagName(instance)).catch((e: unknown) => log(`could not remove the rollout record of removed instance '${instance}': ${errorText(e).split("\n")[0]}`));
    }
    return results;
}

/** Records a successful update in the stack; an update that cannot be recorded runs again next time (it is idempotent). */
async function record(stack: PipelineStack, update: ConfigUpdate, result: ConfigUpdateResult, log: (line: string) => void): Promise<ConfigUpdateResult> {
    try {
        await stack.setTag(rolloutTagName(update.instance), rolloutTagValue(update.instance, update.configHash));
        return result;
    } catch (e) {
        const why = errorText(e).split("\n")[0];
        log(`could not record the rollout of '${update.instance}' in the stack (${why}): the next run updates it again`);
        return { ...result, message: `${result.message} (not recorded in the stack: ${why}; the next run updates it again)` };
    }
}

/** Runs one operation on one stack: select (or create), retry while locked, summarise. */
export async function runStack(stackName: string, request: PipelineRequest, deps: PipelineDeps): Promise<StackSummary> {
    const projectName = deps.projectName ?? readProjectName(request.workDir);
    const started = deps.now();
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    const out = new LinePrefixer(`[${stackName}] `, deps.log);
    const err = new LinePrefixer(`[${stackName}] `, deps.log);
    let collector = new EventCollector();
    let attempts = 0;
    let lockedSince: number | undefined;

    const summary = (fields: Pick<StackSummary, "result" | "error"> & Partial<Pick<StackSummary, "changes" | "outputs" | "configUpdates">>): StackSummary => ({
        stack: stackName,
        operation: request.operation,
        result: fields.result,
        changes: fields.changes ?? {},
        durationMs: Math.max(0, Math.round(deps.now() - started)),
        attempts,
        policyViolations: collector.violations,
        error: fields.error,
        ...(fields.outputs !== undefined ? { outputs: fields.outputs } : {}),
        ...(fields.configUpdates !== undefined ? { configUpdates: fields.configUpdates } : {}),
    });

    try {
        let stack: PipelineStack;
        try {
            stack = await deps.source.open(stackName, { workDir: request.workDir, create: request.create });
        } catch (e) {
            return summary({
                result: "failed",
                error: classifyFailure(e, { stack: stackName, workDir: request.workDir, projectName, collector, interrupted: controller.signal.aborted, waitedMs: 0, attempts, lockTimeoutSeconds: request.lockTimeoutSeconds }),
            });
        }
        const rollout = request.operation === "up" ? deps.rollout : undefined;
        for (;;) {
            attempts++;
            collector = new EventCollector();
            try {
                const result = await stack.run(request.operation, {
                    policyPacks: request.policyPacks,
                    onOutput: (chunk) => out.push(chunk),
                    onError: (chunk) => err.push(chunk),
                    onEvent: collector.handle,
                    signal: controller.signal,
                });
                out.flush();
                err.flush();
                const changes = nonZero(collector.summaryChanges ?? result.changes);
                const base = { changes, outputs: result.outputs };
                if (hasMandatoryViolation({ policyViolations: collector.violations })) {
                    // The engine normally fails on these itself; never report ok with a mandatory violation.
                    return summary({ ...base, result: "failed", error: failure("policy", "mandatory policy violation(s); see the list above.") });
                }
                if (rollout !== undefined) {
                    const deployed = result.deployedOutputs ?? (await stack.currentOutputs());
                    const configUpdates = await rollOut(stackName, stack, rollout, deployed, deps, controller.signal);
                    const failedUpdates = configUpdates.filter((update) => update.result === "failed");
                    if (failedUpdates.length > 0) {
                        const message = `the update succeeded, but the ECS configuration of ${failedUpdates.map((update) => `'${update.instance}'`).join(", ")} did not roll out: ` +
                            "Prometheus there still runs the previous configuration. The next `up` of this stack retries it (the stack records what rolled out).";
                        return summary({ ...base, configUpdates, result: "failed", error: failure("rollout", message) });
                    }
                    return summary({ ...base, ...(configUpdates.length > 0 ? { configUpdates } : {}), result: "ok", error: null });
                }
                return summary({ ...base, result: "ok", error: null });
            } catch (e) {
                out.flush();
                err.flush();
                if (isConcurrentUpdate(e) && !controller.signal.aborted) {
                    lockedSince ??= deps.now();
                    const waited = deps.now() - lockedSince;
                    const remaining = request.lockTimeoutSeconds * 1000 - waited;
                    if (remaining > 0) {
                        const delay = Math.min(remaining, lockRetryDelayMs(attempts, deps.random));
                        deps.log(
                            `[${stackName}] stack is locked by another update; retrying in ${(delay / 1000).toFixed(1)}s ` +
                                `(waited ${Math.round(waited / 1000)}s of --lock-timeout ${request.lockTimeoutSeconds}s)\n`,
                        );
                        await deps.sleep(delay, controller.signal);
                        if (!controller.signal.aborted) continue;
                    }
                }
                return summary({
                    result: "failed",
                    error: classifyFailure(e, {
                        stack: stackName,
                        workDir: request.workDir,
                        projectName,
                        collector,
                        interrupted: controller.signal.aborted,
                        waitedMs: lockedSince === undefined ? 0 : deps.now() - lockedSince,
                        attempts,
                        lockTimeoutSeconds: request.lockTimeoutSeconds,
                    }),
                });
            }
        }
    } finally {
        request.signal?.removeEventListener("abort", onAbort);
    }
}

/** Runs the operation on every stack in order and returns the summary (with its exit code). */
export async function runPipeline(request: PipelineRequest, deps: PipelineDeps): Promise<PipelineSummary> {
    const started = deps.now();
    const startedAt = new Date().toISOString();
    const results: StackSummary[] = [];
    let stopReason: string | undefined;
    for (const stack of request.stacks) {
        if (stopReason !== undefined || request.signal?.aborted) {
            const reason = stopReason ?? "interrupted before this stack started";
            results.push({
                stack,
                operation: request.operation,
                result: "skipped",
                changes: {},
                durationMs: 0,
                attempts: 0,
                policyViolations: [],
                error: null,
            });
            deps.log(`[${stack}] skipped: ${reason}\n`);
            continue;
        }
        deps.log(`[${stack}] ${request.operation} (project in ${request.workDir})\n`);
        const result = await runStack(stack, request, deps);
        results.push(result);
        if (result.result === "failed") {
            const kind = result.error?.kind;
            if (kind === "cli-missing" || kind === "backend-login" || kind === "interrupted") {
                stopReason = `an earlier stack failed (${kind})`;
            } else if (mutatingOperations.includes(request.operation) && !request.keepGoing) {
                stopReason = `'${result.stack}' failed and '${request.operation}' stops at the first failure (pass --keep-going to continue)`;
            }
        }
    }
    return {
        schemaVersion: 1,
        operation: request.operation,
        workDir: request.workDir,
        policyPacks: [...request.policyPacks],
        startedAt,
        durationMs: Math.max(0, Math.round(deps.now() - started)),
        exitCode: exitCodeFor(results),
        stacks: results,
    };
}
