/**
 * The Automation API pipeline without an engine: argument parsing, the summary (table, JSON, exit codes),
 * lock retries, missing stacks, config-error extraction and policy violations, against a fake StackSource.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConcurrentUpdateError, EngineEvent, StackNotFoundError } from "@pulumi/pulumi/automation";
import { CliIo, main, parseArgs, projectRoot } from "../../automation/cli";
import {
    classifyFailure,
    confirmationProblem,
    engineErrorLines,
    EventCollector,
    extractConfigProblems,
    LinePrefixer,
    lockRetryDelayMs,
    PipelineDeps,
    PipelineRequest,
    PipelineStack,
    requestProblems,
    RunOptions,
    RunResult,
    runPipeline,
    StackSource,
} from "../../automation/pipeline";
import { maskOutputs } from "../../automation/engine";
import { missingPluginMessage, missingPlugins } from "../../automation/toolchain";
import { ConfigRollout, ConfigUpdate, ConfigUpdateResult, recordedConfigHashes, rolloutTagName, rolloutTagValue } from "../../automation/rollout";
import { exitCodeFor, PipelineSummary, renderJson, renderTable, StackSummary } from "../../automation/summary";
import { Operation } from "../../automation/summary";

// The Automation API's error classes take a CommandResult; its toString() is the message, so a string works.
function lockedError(): Error {
    const stderr =
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
        "  file:///tmp/backend/.pulumi/locks/organization/prometheus-paas/dev/0d7c.json?no_tmp_dir=true: created by ci@runner-3 (pid 4242) at 2025-11-21T12:00:00Z\n";
    // As the Automation API reports it: the CLI's result, wrapped once more by its exec helper.
    const inner = `code: 255\n stdout: \n stderr: ${stderr}\n err?: \n`;
    return new (ConcurrentUpdateError as any)(`code: -2\n stdout: \n stderr: ${inner}\n err?: ConcurrentUpdateError: ${inner}\n`);
}

function notFoundError(stack: string): Error {
    return new (StackNotFoundError as any)(`code: 255\n stdout: \n stderr: error: no stack named '${stack}' found\n`);
}

/** What the engine prints when index.ts throws ConfigError (Node.js language host, unhandled exception). */
const configErrorOutput = [
    "code: 255",
    " stdout: Previewing update (dev):",
    "",
    "@ previewing update....",
    " +  pulumi:pulumi:Stack prometheus-paas-dev create error: Running program '/work/main' failed with an unhandled exception:",
    "    ConfigError: invalid stack configuration:",
    "      - prometheus-paas:instances[0].plan: unknown plan 'huge'; allowed: small, medium, large",
    "      - prometheus-paas:thanos.compactor.replicas: the compactor must be a singleton per bucket; allowed: 0 or 1 (got 2)",
    "        at parseStackConfig (/work/main/components/config.ts:318:15)",
    "",
    " stderr: error: preview failed",
].join("\n");

type Script = (options: RunOptions, call: number) => Promise<RunResult>;

class FakeSource implements StackSource {
    readonly opened: { stack: string; workDir: string; create: boolean }[] = [];
    readonly runs: { stack: string; operation: Operation; policyPacks: readonly string[] }[] = [];
    readonly outputReads: string[] = [];
    /** Each stack's tags, kept across opens as the backend keeps them. */
    readonly tags = new Map<string, Map<string, string>>();
    tagsError: Error | undefined;
    private readonly calls = new Map<string, number>();

    constructor(
        private readonly scripts: Record<string, Script>,
        private readonly openError: Record<string, Error> = {},
    ) {}

    async open(stack: string, options: { workDir: string; create: boolean }): Promise<PipelineStack> {
        this.opened.push({ stack, ...options });
        if (this.openError[stack] && !options.create) throw this.openError[stack];
        return {
            run: async (operation, runOptions) => {
                this.runs.push({ stack, operation, policyPacks: runOptions.policyPacks });
                const call = (this.calls.get(stack) ?? 0) + 1;
                this.calls.set(stack, call);
                const script = this.scripts[stack];
                if (!script) throw new Error(`fake: no script for stack ${stack}`);
                return script(runOptions, call);
            },
            currentOutputs: async () => {
                this.outputReads.push(stack);
                return {};
            },
            tags: async () => {
                if (this.tagsError) throw this.tagsError;
                return Object.fromEntries(this.stackTags(stack));
            },
            setTag: async (name, value) => {
                if (this.tagsError) throw this.tagsError;
                this.stackTags(stack).set(name, value);
            },
            removeTag: async (name) => {
                this.stackTags(stack).delete(name);
            },
        };
    }

    private stackTags(stack: string): Map<string, string> {
        if (!this.tags.has(stack)) this.tags.set(stack, new Map());
        return this.tags.get(stack)!;
    }
}

function summaryEvent(changes: Record<string, number>): EngineEvent {
    return { sequence: 1, timestamp: 0, summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: changes, policyPacks: {} } };
}

function policyEvent(level: "mandatory" | "advisory", policy: string, urn?: string): EngineEvent {
    return {
        sequence: 2,
        timestamp: 0,
        policyEvent: {
            resourceUrn: urn,
            message: `Description of ${policy}.\n${policy} was violated\nbecause of reasons`,
            color: "never",
            policyName: policy,
            policyPackName: "prometheus-paas-policy",
            policyPackVersion: "0.1.0",
            policyPackVersionTag: "0.1.0",
            enforcementLevel: level as "mandatory",
        },
    };
}

const ok =
    (changes: Record<string, number>, events: EngineEvent[] = []): Script =>
    async (options) => {
        options.onOutput("Updating (dev)\nresources:\n");
        for (const event of [...events, summaryEvent(changes)]) options.onEvent(event);
        return { changes };
    };

/** A fake clock: sleeping advances time instantly. */
function fakeDeps(source: StackSource, log: string[] = []): PipelineDeps & { sleeps: number[] } {
    let now = 1_000_000;
    const sleeps: number[] = [];
    return {
        source,
        log: (text) => log.push(text),
        now: () => now,
        sleep: async (ms) => {
            sleeps.push(ms);
            now += ms;
        },
        random: () => 0.5,
        projectName: "prometheus-paas",
        sleeps,
    };
}

function request(overrides: Partial<PipelineRequest> = {}): PipelineRequest {
    return {
        operation: "up",
        stacks: ["dev"],
        workDir: projectRoot,
        policyPacks: [],
        create: false,
        lockTimeoutSeconds: 120,
        keepGoing: false,
        ...overrides,
    };
}

function stackSummary(overrides: Partial<StackSummary> = {}): StackSummary {
    return {
        stack: "dev",
        operation: "up",
        result: "ok",
        changes: { create: 3, same: 2 },
        durationMs: 1234,
        attempts: 1,
        policyViolations: [],
        error: null,
        ...overrides,
    };
}

class CapturedIo implements CliIo {
    out = "";
    err = "";
    questions: string[] = [];
    constructor(
        readonly stdinIsTTY = false,
        private readonly answer = false,
    ) {}
    stdout = (text: string) => void (this.out += text);
    stderr = (text: string) => void (this.err += text);
    confirm = async (question: string) => {
        this.questions.push(question);
        return this.answer;
    };
}

async function parsed(args: string[]) {
    const io = new CapturedIo();
    const result = await parseArgs(args, io);
    return { ...result, io };
}

describe("pipeline: argument parsing (commander)", () => {
    it("merges --stack and positional stacks in order, without duplicates", async () => {
        const { invocation } = await parsed(["preview", "--stack", "dev", "prod", "--stack", "local", "dev"]);
        assert.deepEqual(invocation?.stacks, ["dev", "local", "prod"]);
        assert.equal(invocation?.operation, "preview");
    });

    it("defaults: project root as work dir, lock timeout 120s, no --yes, no JSON, no create", async () => {
        const { invocation } = await parsed(["up", "dev"]);
        assert.deepEqual(
            { cwd: invocation?.cwd, lock: invocation?.lockTimeoutSeconds, yes: invocation?.yes, json: invocation?.json, create: invocation?.create, keepGoing: invocation?.keepGoing },
            { cwd: projectRoot, lock: 120, yes: false, json: undefined, create: false, keepGoing: false },
        );
        assert.ok(fs.existsSync(path.join(projectRoot, "Pulumi.yaml")), "projectRoot is the directory of Pulumi.yaml");
    });

    it("takes repeatable --policy-pack as absolute paths, and every other flag", async () => {
        const { invocation } = await parsed([
            "up", "-s", "dev", "--policy-pack", "policy", "--policy-pack", "/opt/extra-pack",
            "--yes", "--json", "-", "--create", "--cwd", "/tmp", "--lock-timeout", "5", "--keep-going",
        ]);
        assert.deepEqual(invocation, {
            operation: "up",
            stacks: ["dev"],
            policyPacks: [path.resolve("policy"), "/opt/extra-pack"],
            yes: true,
            json: "-",
            create: true,
            cwd: "/tmp",
            lockTimeoutSeconds: 5,
            keepGoing: true,
        });
    });

    it("prints help with every command and the exit codes, exit 0", async () => {
        const { exitCode, io } = await parsed(["--help"]);
        assert.equal(exitCode, 0);
        for (const text of ["preview", "up", "refresh", "destroy", "outputs", "Exit codes:", "2  every failed stack failed on its configuration"]) {
            assert.ok(io.out.includes(text), `help lacks '${text}':\n${io.out}`);
        }
        const up = await parsed(["up", "--help"]);
        assert.equal(up.exitCode, 0);
        for (const flag of ["--stack", "--policy-pack", "--yes", "--json", "--create", "--cwd", "--lock-timeout", "--keep-going"]) {
            assert.ok(up.io.out.includes(flag), `up --help lacks ${flag}`);
        }
    });

    it("rejects usage errors with exit 1 and a message on stderr", async () => {
        for (const args of [["deploy", "dev"], ["preview", "--lock-timeout", "soon", "dev"], ["preview", "--no-such-flag"], ["refresh", "--policy-pack", "policy", "dev"], []]) {
            const { exitCode, io, invocation } = await parsed(args);
            assert.equal(invocation, undefined, args.join(" "));
            assert.equal(exitCode, 1, args.join(" "));
            assert.notEqual(io.err, "", args.join(" "));
        }
        const { io } = await parsed(["preview", "--lock-timeout", "soon", "dev"]);
        assert.match(io.err, /--lock-timeout.*whole number of seconds/);
    });

    it("finds problems before any engine runs: no stack, bad names, no Pulumi.yaml, policy pack not installed", () => {
        assert.deepEqual(requestProblems({ stacks: ["dev"], cwd: projectRoot, policyPacks: [] }), []);
        assert.match(requestProblems({ stacks: [], cwd: projectRoot, policyPacks: [] })[0], /no stack given/);
        assert.match(requestProblems({ stacks: ["dev prod"], cwd: projectRoot, policyPacks: [] })[0], /invalid stack name/);
        assert.match(requestProblems({ stacks: ["dev"], cwd: os.tmpdir(), policyPacks: [] })[0], /no Pulumi.yaml/);
        assert.match(requestProblems({ stacks: ["dev"], cwd: projectRoot, policyPacks: [os.tmpdir()] })[0], /no PulumiPolicy.yaml/);
        const pack = fs.mkdtempSync(path.join(os.tmpdir(), "pack-"));
        try {
            fs.writeFileSync(path.join(pack, "PulumiPolicy.yaml"), "runtime: nodejs\n");
            fs.writeFileSync(path.join(pack, "package.json"), "{}\n");
            assert.match(requestProblems({ stacks: ["dev"], cwd: projectRoot, policyPacks: [pack] })[0], /run `npm ci` in/);
        } finally {
            fs.rmSync(pack, { recursive: true, force: true });
        }
    });
});

describe("pipeline: --yes and confirmation", () => {
    it("refuses up/refresh/destroy without --yes when stdin is not a terminal", () => {
        for (const operation of ["up", "refresh", "destroy"] as const) {
            assert.match(confirmationProblem(operation, ["dev", "prod"], false, false) ?? "", /refusing to run '.*' on 'dev', 'prod' without --yes: stdin is not a terminal/);
            assert.equal(confirmationProblem(operation, ["dev"], true, false), undefined);
            assert.equal(confirmationProblem(operation, ["dev"], false, true), undefined);
        }
        assert.equal(confirmationProblem("preview", ["dev"], false, false), undefined);
        assert.equal(confirmationProblem("outputs", ["dev"], false, false), undefined);
    });

    it("exits 1 without touching the engine when it refuses, or when the person at the terminal says no", async () => {
        const source = new FakeSource({ dev: ok({ create: 1 }) });
        const ci = new CapturedIo(false);
        assert.equal(await main(["up", "dev"], { io: ci, source }), 1);
        assert.match(ci.err, /without --yes/);
        const person = new CapturedIo(true, false);
        assert.equal(await main(["destroy", "dev"], { io: person, source }), 1);
        assert.match(person.questions[0], /Run 'destroy' on dev/);
        assert.deepEqual(source.opened, []);
        const yes = new CapturedIo(true, true);
        assert.equal(await main(["up", "dev"], { io: yes, source, sleep: async () => undefined }), 0);
        assert.equal(source.runs.length, 1);
    });
});

describe("pipeline: summary rendering and exit codes", () => {
    const summary: PipelineSummary = {
        schemaVersion: 1,
        operation: "up",
        workDir: "/work/main",
        policyPacks: ["/work/main/policy"],
        startedAt: "2025-11-21T12:00:00.000Z",
        durationMs: 5000,
        exitCode: 1,
        stacks: [
            stackSummary({ stack: "dev", changes: { same: 2, create: 3, update: 1 } }),
            stackSummary({
                stack: "prod",
                result: "failed",
                changes: {},
                policyViolations: [
                    { level: "mandatory", policyPack: "prometheus-paas-policy@0.1.0", policy: "thanos-compactor-singleton", message: "two compactors", description: null, resourceUrn: "urn:pulumi:prod::prometheus-paas::x", severity: "high" },
                    { level: "advisory", policyPack: "prometheus-paas-policy@0.1.0", policy: "image-pinned", message: "latest tag", description: null, resourceUrn: null, severity: null },
                ],
                error: { kind: "policy", message: "1 mandatory policy violation(s)", configProblems: [] },
            }),
            stackSummary({ stack: "local", result: "skipped", changes: {}, attempts: 0, durationMs: 0 }),
        ],
    };

    it("renders one row per stack with result, attempts, duration, policy counts and ordered changes", () => {
        const table = renderTable(summary);
        const lines = table.split("\n");
        assert.match(lines[0], /^STACK\s+OPERATION\s+RESULT\s+ATTEMPTS\s+DURATION\(ms\)\s+POLICY\(mandatory\/other\)\s+CHANGES$/);
        assert.match(lines[1], /^dev\s+up\s+ok\s+1\s+1234\s+0\/0\s+create=3 update=1 same=2$/);
        assert.match(lines[2], /^prod\s+up\s+failed\s+1\s+1234\s+1\/1\s+-$/);
        assert.match(lines[3], /^local\s+up\s+skipped\s+0\s+0\s+0\/0\s+-$/);
        assert.ok(table.includes("  [mandatory, high] prometheus-paas-policy@0.1.0/thanos-compactor-singleton: two compactors"));
        assert.ok(table.includes("  [advisory] prometheus-paas-policy@0.1.0/image-pinned: latest tag"));
        assert.ok(table.includes("      resource: urn:pulumi:prod::prometheus-paas::x"));
        assert.ok(table.includes("      resource: (stack)"));
        assert.ok(table.includes("prod: failed (policy)"));
        assert.match(table, /up: failed \(exit code 1, 5000 ms\)\n$/);
    });

    it("writes JSON with the documented schema", () => {
        const json = JSON.parse(renderJson(summary));
        assert.deepEqual(Object.keys(json).sort(), ["durationMs", "exitCode", "operation", "policyPacks", "schemaVersion", "stacks", "startedAt", "workDir"]);
        assert.deepEqual(Object.keys(json.stacks[1]).sort(), ["attempts", "changes", "durationMs", "error", "operation", "policyViolations", "result", "stack"]);
        assert.deepEqual(Object.keys(json.stacks[1].policyViolations[0]).sort(), ["description", "level", "message", "policy", "policyPack", "resourceUrn", "severity"]);
        assert.deepEqual(json.stacks[1].error, { kind: "policy", message: "1 mandatory policy violation(s)", configProblems: [] });
    });

    it("exit code: 0 all ok, 2 only config failures, 1 any other failure or a mandatory violation", () => {
        const config = { kind: "config" as const, message: "bad", configProblems: ["prometheus-paas:region: is required"] };
        const engine = { kind: "engine" as const, message: "boom", configProblems: [] };
        assert.equal(exitCodeFor([stackSummary(), stackSummary({ stack: "prod" })]), 0);
        assert.equal(exitCodeFor([stackSummary(), stackSummary({ result: "failed", error: config })]), 2);
        assert.equal(exitCodeFor([stackSummary({ result: "failed", error: config }), stackSummary({ result: "failed", error: engine })]), 1);
        assert.equal(exitCodeFor([stackSummary({ result: "failed", error: { ...engine, kind: "locked" } })]), 1);
        const mandatory = { level: "mandatory", policyPack: "p", policy: "x", message: "m", description: null, resourceUrn: null, severity: null };
        assert.equal(exitCodeFor([stackSummary({ policyViolations: [mandatory] })]), 1);
        assert.equal(exitCodeFor([stackSummary({ policyViolations: [{ ...mandatory, level: "advisory" }] })]), 0);
        assert.equal(exitCodeFor([stackSummary({ result: "skipped" })]), 0);
    });
});

describe("pipeline: running stacks against a fake engine", () => {
    it("runs each stack in order, prefixes streamed output with the stack, and collects changes from the summary event", async () => {
        const log: string[] = [];
        const source = new FakeSource({ dev: ok({ create: 5, same: 0 }), prod: ok({ same: 7 }) });
        const summary = await runPipeline(request({ stacks: ["dev", "prod"], policyPacks: ["/p"] }), fakeDeps(source, log));
        assert.deepEqual(source.runs, [
            { stack: "dev", operation: "up", policyPacks: ["/p"] },
            { stack: "prod", operation: "up", policyPacks: ["/p"] },
        ]);
        assert.deepEqual(summary.stacks.map((s) => [s.stack, s.result, s.changes]), [["dev", "ok", { create: 5 }], ["prod", "ok", { same: 7 }]]);
        assert.equal(summary.exitCode, 0);
        const text = log.join("");
        assert.ok(text.includes("[dev] Updating (dev)\n[dev] resources:\n"), text);
        assert.ok(text.includes("[prod] Updating (dev)\n"), text);
    });

    it("reassembles engine output split across chunks into prefixed lines", () => {
        const written: string[] = [];
        const prefixer = new LinePrefixer("[dev] ", (t) => written.push(t));
        prefixer.push("Prev");
        prefixer.push("iewing update\n + pulumi:pulumi:Stack");
        prefixer.push(" create\r\nResources:");
        prefixer.flush();
        assert.equal(written.join(""), "[dev] Previewing update\n[dev]  + pulumi:pulumi:Stack create\n[dev] Resources:\n");
    });

    it("retries a locked stack with growing backoff and succeeds once the lock is gone", async () => {
        const log: string[] = [];
        const source = new FakeSource({
            dev: async (options, call) => {
                if (call <= 3) throw lockedError();
                return ok({ update: 1, same: 4 })(options, call);
            },
        });
        const deps = fakeDeps(source, log);
        const summary = await runPipeline(request(), deps);
        const dev = summary.stacks[0];
        assert.equal(dev.result, "ok");
        assert.equal(dev.attempts, 4);
        assert.deepEqual(deps.sleeps, [2000, 4000, 8000]);
        assert.equal(dev.durationMs, 14000);
        assert.equal(summary.exitCode, 0);
        assert.equal(log.filter((l) => l.includes("[dev] stack is locked by another update; retrying in")).length, 3);
    });

    it("gives up after --lock-timeout with how to cancel the lock, exit 1", async () => {
        const source = new FakeSource({
            dev: async () => {
                throw lockedError();
            },
        });
        const deps = fakeDeps(source);
        const previous = process.env.PULUMI_BACKEND_URL;
        process.env.PULUMI_BACKEND_URL = "file:///var/state";
        try {
            const summary = await runPipeline(request({ lockTimeoutSeconds: 20 }), deps);
            const dev = summary.stacks[0];
            assert.equal(dev.result, "failed");
            assert.equal(dev.error?.kind, "locked");
            // 2 + 4 + 8 = 14s, then the remaining 6s, then one last attempt.
            assert.deepEqual(deps.sleeps, [2000, 4000, 8000, 6000]);
            assert.equal(dev.attempts, 5);
            assert.match(dev.error!.message, /still locked after waiting 20s \(--lock-timeout 20s, 5 attempts\)/);
            assert.equal(dev.error!.message.match(/lock: .*created by ci@runner-3 \(pid 4242\)/g)?.length, 1, "each lock holder once");
            assert.match(dev.error!.message, /pulumi cancel --stack dev --yes/);
            assert.match(dev.error!.message, /\/var\/state\/\.pulumi\/locks\/organization\/prometheus-paas\/dev\//);
            assert.equal(summary.exitCode, 1);
        } finally {
            if (previous === undefined) delete process.env.PULUMI_BACKEND_URL;
            else process.env.PULUMI_BACKEND_URL = previous;
        }
    });

    it("does not retry with --lock-timeout 0", async () => {
        const source = new FakeSource({ dev: async () => Promise.reject(lockedError()) });
        const deps = fakeDeps(source);
        const summary = await runPipeline(request({ lockTimeoutSeconds: 0 }), deps);
        assert.deepEqual(deps.sleeps, []);
        assert.equal(summary.stacks[0].attempts, 1);
        assert.equal(summary.stacks[0].error?.kind, "locked");
    });

    it("jitters the backoff within +-20% and caps it at 30s", () => {
        assert.equal(lockRetryDelayMs(1, () => 0), 1600);
        assert.equal(lockRetryDelayMs(1, () => 0.999999), 2400);
        assert.equal(lockRetryDelayMs(10, () => 0.5), 30000);
    });

    it("reports a missing stack with how to create it; --create selects or creates it", async () => {
        const source = new FakeSource({ dev: ok({ create: 2 }) }, { dev: notFoundError("dev") });
        const missing = await runPipeline(request({ operation: "preview" }), fakeDeps(source));
        assert.equal(missing.stacks[0].error?.kind, "stack-not-found");
        assert.match(missing.stacks[0].error!.message, /stack 'dev' does not exist .*Pass --create to create it/);
        assert.equal(missing.exitCode, 1);
        const created = await runPipeline(request({ operation: "preview", create: true }), fakeDeps(source));
        assert.equal(created.stacks[0].result, "ok");
        assert.deepEqual(source.opened.map((o) => o.create), [false, true]);
    });

    it("stops up at the first failed stack (the rest are skipped) unless --keep-going; preview always runs all", async () => {
        const scripts = { dev: async () => Promise.reject(new Error("error: update failed")), prod: ok({ same: 1 }) };
        const up = await runPipeline(request({ stacks: ["dev", "prod"] }), fakeDeps(new FakeSource(scripts)));
        assert.deepEqual(up.stacks.map((s) => s.result), ["failed", "skipped"]);
        const keepGoing = await runPipeline(request({ stacks: ["dev", "prod"], keepGoing: true }), fakeDeps(new FakeSource(scripts)));
        assert.deepEqual(keepGoing.stacks.map((s) => s.result), ["failed", "ok"]);
        const preview = await runPipeline(request({ operation: "preview", stacks: ["dev", "prod"] }), fakeDeps(new FakeSource(scripts)));
        assert.deepEqual(preview.stacks.map((s) => s.result), ["failed", "ok"]);
        assert.equal(preview.stacks[0].error?.kind, "engine");
        assert.equal(preview.stacks[0].error?.message, "error: update failed");
    });

    it("a plugin neither installed nor acquirable (plugin-missing): names it, the version asked for, and how to get it on the user's toolchain and offline", async () => {
        const engineText =
            "code: 255\n stdout: Previewing update (dev):\n stderr: error: could not load plugin for kubernetes provider 'default_4_24_1': no resource plugin 'pulumi-resource-kubernetes' found in the workspace at version v4.24.1 or on your $PATH\n";
        const failing = new FakeSource({ dev: async () => { throw new Error(engineText); } });
        const summary = await runPipeline(request({ operation: "preview" }), fakeDeps(failing));
        assert.equal(summary.stacks[0].error?.kind, "plugin-missing");
        const [first, ...rest] = summary.stacks[0].error!.message.split("\n");
        assert.match(first, /^the resource plugin 'kubernetes' v4\.24\.1 \(the version the program's SDK asks for\) is not installed and could not be acquired: /);
        assert.deepEqual(rest, ["error: could not load plugin for kubernetes provider 'default_4_24_1': no resource plugin 'pulumi-resource-kubernetes' found in the workspace at version v4.24.1 or on your $PATH"]);
        const collector = new EventCollector();
        const context = { stack: "dev", workDir: "/p", projectName: "prometheus-paas", collector, interrupted: false, waitedMs: 0, attempts: 1, lockTimeoutSeconds: 0 };
        const user = classifyFailure(new Error(engineText), { ...context, toolchain: "user" }).message;
        assert.match(user, /PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES .*'pulumi plugin install resource kubernetes v4\.24\.1' \(into PULUMI_HOME/);
        const offline = classifyFailure(new Error(engineText), { ...context, toolchain: "offline" }).message;
        assert.match(offline, /bash scripts\/setup\.sh builds the Kubernetes provider/);
    });

    it("an automatic download that failed (plugin-missing), and a policy pack whose runtime plugin is missing: each plugin named once", async () => {
        const text = [
            "error: Could not automatically download and install resource plugin 'pulumi-resource-kubernetes' at version v4.24.1, install the plugin using `pulumi plugin install resource kubernetes v4.24.1`: failed all 5 attempts",
            "error: 2 errors occurred:",
            "    1) could not find latest version for provider policy-nodejs: Get \"https://api.github.com/repos/pulumi/pulumi-policy-nodejs/releases/latest\": no such host",
            "    2) no analyzer plugin 'pulumi-analyzer-policy-nodejs' found in the workspace or on your $PATH",
        ].join("\n");
        const plugins = missingPlugins(text);
        assert.deepEqual(plugins, [
            { kind: "resource", name: "kubernetes", version: "4.24.1" },
            { kind: "analyzer", name: "policy-nodejs", version: undefined },
        ]);
        assert.match(missingPluginMessage(plugins, "user"), /analyzer plugin 'policy-nodejs' is not installed .*pulumi-language-nodejs/);
        assert.deepEqual(engineErrorLines(text).slice(1), [
            "error: 2 errors occurred:",
            "1) could not find latest version for provider policy-nodejs: Get \"https://api.github.com/repos/pulumi/pulumi-policy-nodejs/releases/latest\": no such host",
            "2) no analyzer plugin 'pulumi-analyzer-policy-nodejs' found in the workspace or on your $PATH",
        ]);
    });

    it("no backend login (backend-login): says how to log in, and skips the remaining stacks", async () => {
        const source = new FakeSource({
            dev: async () => {
                throw new Error("code: 255\n stderr: error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions\n");
            },
        });
        const summary = await runPipeline(request({ operation: "preview", stacks: ["dev", "prod"] }), fakeDeps(source));
        assert.equal(summary.stacks[0].error?.kind, "backend-login");
        assert.match(summary.stacks[0].error!.message, /^not logged in to a Pulumi backend \(the engine said: PULUMI_ACCESS_TOKEN must be set .*\)\. Set PULUMI_ACCESS_TOKEN .*PULUMI_BACKEND_URL .*pulumi login/);
        assert.equal(summary.stacks[1].result, "skipped");
    });

    it("says how to get the pulumi CLI when it is missing, and stops there", async () => {
        const source: StackSource = {
            open: async () => {
                throw new Error("code: -2\n stdout: \n stderr: spawn pulumi ENOENT\n err?: Error: spawn pulumi ENOENT");
            },
        };
        const summary = await runPipeline(request({ operation: "preview", stacks: ["dev", "prod"] }), fakeDeps(source));
        assert.equal(summary.stacks[0].error?.kind, "cli-missing");
        assert.match(summary.stacks[0].error!.message, /bash scripts\/setup.sh/);
        assert.equal(summary.stacks[1].result, "skipped");
    });

    it("marks a stack failed (policy) on mandatory violations and keeps advisory ones as information", async () => {
        const urn = "urn:pulumi:dev::prometheus-paas::kubernetes:apps/v1:StatefulSet::thanos-compactor";
        const mandatory = new FakeSource({
            dev: async (options) => {
                options.onEvent(policyEvent("mandatory", "thanos-compactor-singleton", urn));
                options.onEvent(policyEvent("advisory", "image-pinned"));
                throw new Error("code: 255\n stderr: error: preview failed");
            },
        });
        const failed = await runPipeline(request({ operation: "preview" }), fakeDeps(mandatory));
        const dev = failed.stacks[0];
        assert.equal(dev.result, "failed");
        assert.equal(dev.error?.kind, "policy");
        assert.deepEqual(dev.policyViolations[0], {
            level: "mandatory",
            policyPack: "prometheus-paas-policy@0.1.0",
            policy: "thanos-compactor-singleton",
            message: "thanos-compactor-singleton was violated\nbecause of reasons",
            description: "Description of thanos-compactor-singleton.",
            resourceUrn: urn,
            severity: null,
        });
        assert.equal(dev.policyViolations[1].resourceUrn, null);
        assert.equal(failed.exitCode, 1);

        const advisory = new FakeSource({ dev: ok({ same: 3 }, [policyEvent("advisory", "image-pinned")]) });
        const passed = await runPipeline(request({ operation: "preview" }), fakeDeps(advisory));
        assert.equal(passed.stacks[0].result, "ok");
        assert.equal(passed.stacks[0].policyViolations.length, 1);
        assert.equal(passed.exitCode, 0);

        // Should the engine ever succeed despite a mandatory violation, the pipeline still fails.
        const lenient = new FakeSource({ dev: ok({ same: 3 }, [policyEvent("mandatory", "x")]) });
        const strict = await runPipeline(request({ operation: "preview" }), fakeDeps(lenient));
        assert.equal(strict.stacks[0].result, "failed");
        assert.equal(strict.exitCode, 1);
    });

    it("only keeps policy events from the last attempt after a lock retry", async () => {
        const source = new FakeSource({
            dev: async (options, call) => {
                options.onEvent(policyEvent("advisory", `attempt-${call}`));
                if (call === 1) throw lockedError();
                return ok({ same: 1 })(options, call);
            },
        });
        const summary = await runPipeline(request(), fakeDeps(source));
        assert.deepEqual(summary.stacks[0].policyViolations.map((v) => v.policy), ["attempt-2"]);
    });
});

describe("pipeline: configuration errors", () => {
    it("extracts every prometheus-paas:<key> line of a ConfigError, once each", () => {
        assert.deepEqual(extractConfigProblems(configErrorOutput + "\n" + configErrorOutput), [
            "prometheus-paas:instances[0].plan: unknown plan 'huge'; allowed: small, medium, large",
            "prometheus-paas:thanos.compactor.replicas: the compactor must be a singleton per bucket; allowed: 0 or 1 (got 2)",
        ]);
    });

    it("extracts the engine's own config checks against Pulumi.yaml types", () => {
        const text = [
            "error: Stack 'dev' is missing configuration value 'prometheus-paas:region'",
            "error: Stack 'dev' with configuration key 'kubernetes' must be of type 'object'",
        ].join("\n");
        assert.deepEqual(extractConfigProblems(text), [
            "Stack 'dev' is missing configuration value 'prometheus-paas:region'",
            "Stack 'dev' with configuration key 'kubernetes' must be of type 'object'",
        ]);
    });

    it("does not mistake config values in ordinary output for problems", () => {
        assert.deepEqual(extractConfigProblems("Configuration:\n    prometheus-paas:environment: dev\nerror: update failed"), []);
    });

    it("fails the stack with kind config and exit code 2, listing the keys", async () => {
        const source = new FakeSource({
            dev: async (options) => {
                options.onEvent({
                    sequence: 3,
                    timestamp: 0,
                    diagnosticEvent: { message: configErrorOutput.split("\n").slice(4, 9).join("\n"), color: "never", severity: "error" },
                });
                throw new Error(configErrorOutput);
            },
        });
        const io = new CapturedIo();
        const code = await main(["preview", "dev", "--json", "-"], { io, source });
        assert.equal(code, 2);
        const json = JSON.parse(io.out);
        assert.equal(json.exitCode, 2);
        assert.equal(json.stacks[0].error.kind, "config");
        assert.deepEqual(json.stacks[0].error.configProblems, [
            "prometheus-paas:instances[0].plan: unknown plan 'huge'; allowed: small, medium, large",
            "prometheus-paas:thanos.compactor.replicas: the compactor must be a singleton per bucket; allowed: 0 or 1 (got 2)",
        ]);
        assert.match(io.err, /dev: failed \(config\)\n  invalid configuration for stack 'dev' \(fix Pulumi.dev.yaml\):\n    prometheus-paas:instances\[0\]\.plan: unknown plan 'huge'/);
    });
});

describe("pipeline: main() output channels", () => {
    it("with --json - stdout is exactly the JSON document; the table and engine output go to stderr", async () => {
        const io = new CapturedIo();
        const code = await main(["preview", "dev", "prod", "--json", "-"], { io, source: new FakeSource({ dev: ok({ create: 2 }), prod: ok({ same: 2 }) }) });
        assert.equal(code, 0);
        const json = JSON.parse(io.out);
        assert.deepEqual(json.stacks.map((s: StackSummary) => [s.stack, s.result, s.changes]), [["dev", "ok", { create: 2 }], ["prod", "ok", { same: 2 }]]);
        assert.match(io.err, /\[dev\] Updating/);
        assert.match(io.err, /^STACK\s+OPERATION/m);
    });

    it("with --json <file> writes the file and prints the table on stdout", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-json-"));
        try {
            const io = new CapturedIo();
            const file = path.join(dir, "nested", "summary.json");
            const code = await main(["up", "-s", "dev", "--yes", "--json", file], { io, source: new FakeSource({ dev: ok({ create: 1 }) }) });
            assert.equal(code, 0);
            assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).stacks[0].changes.create, 1);
            assert.match(io.out, /^dev\s+up\s+ok/m);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("outputs prints each stack's outputs as the source returns them", async () => {
        const io = new CapturedIo();
        const source = new FakeSource({ dev: async () => ({ outputs: { environment: "dev", bucketName: "[secret]" } }) });
        assert.equal(await main(["outputs", "dev"], { io, source }), 0);
        assert.match(io.out, /dev: outputs\n  bucketName = "\[secret\]"\n  environment = "dev"/);
    });
});

describe("pipeline: engine events", () => {
    it("keeps error diagnostics and the last summary event", () => {
        const collector = new EventCollector();
        collector.handle({ sequence: 1, timestamp: 0, diagnosticEvent: { message: "\u001b[31mboom\u001b[0m\n", color: "raw", severity: "error" } });
        collector.handle({ sequence: 2, timestamp: 0, diagnosticEvent: { message: "fyi", color: "raw", severity: "info" } });
        collector.handle(summaryEvent({ create: 1 }));
        assert.deepEqual(collector.errorDiagnostics, ["boom"]);
        assert.deepEqual(collector.summaryChanges, { create: 1 });
    });
});

describe("pipeline: stack outputs from the Automation API", () => {
    it("keeps plain values and never prints secrets", () => {
        assert.deepEqual(
            maskOutputs({
                environment: { value: "dev", secret: false },
                instances: { value: [{ name: "shop" }], secret: false },
                bucketSecretKey: { value: "s3cr3t", secret: true },
            }),
            { environment: "dev", instances: [{ name: "shop" }], bucketSecretKey: "[secret]" },
        );
    });
});

describe("pipeline: ECS configuration rollout after up, converging on the stack's record", () => {
    const command = (instance: string, hash: string) =>
        `aws ecs run-task --region us-east-1 --cluster arn:aws:ecs:us-east-1:1:cluster/c --launch-type FARGATE --task-definition arn:aws:ecs:us-east-1:1:task-definition/prometheus-prod-${instance}-config-update:3 --network-configuration 'awsvpcConfiguration={subnets=[subnet-1],securityGroups=[sg-1],assignPublicIp=DISABLED}' --started-by config-${hash}`;
    const outputs = (commands: Record<string, string>) => ({ environment: "prod", ecsConfigUpdateCommands: commands });

    class FakeRollout implements ConfigRollout {
        readonly ran: ConfigUpdate[] = [];
        constructor(readonly failing: string[] = []) {}
        async run(update: ConfigUpdate): Promise<ConfigUpdateResult> {
            this.ran.push(update);
            const failed = this.failing.includes(update.instance);
            return { instance: update.instance, result: failed ? "failed" : "ok", taskArn: `arn:aws:ecs:us-east-1:1:task/c/${update.instance}`, message: failed ? "the config-update container failed (exit code 1)" : "configuration copied onto EFS" };
        }
    }

    function upWith(after: Record<string, unknown>): Script {
        return async (options) => {
            options.onEvent(summaryEvent({ update: 1 }));
            return { changes: { update: 1 }, deployedOutputs: after };
        };
    }

    const recordOf = (source: FakeSource, stack: string) => recordedConfigHashes(Object.fromEntries(source.tags.get(stack) ?? []));

    it("runs the config-update task of each instance whose hash the stack has not recorded (new ones included), records each success, and reports it", async () => {
        const after = outputs({ billing: command("billing", "cccc"), ledger: command("ledger", "bbbb"), fresh: command("fresh", "dddd") });
        const source = new FakeSource({ prod: upWith(after) });
        source.tags.set("prod", new Map([[rolloutTagName("billing"), rolloutTagValue("billing", "config-aaaa")], [rolloutTagName("ledger"), rolloutTagValue("ledger", "config-bbbb")]]));
        const rollout = new FakeRollout();
        const log: string[] = [];
        const summary = await runPipeline(request({ stacks: ["prod"] }), { ...fakeDeps(source, log), rollout });
        assert.deepEqual(rollout.ran.map((update) => [update.instance, update.configHash]), [["billing", "config-cccc"], ["fresh", "config-dddd"]], "the rolled-out 'ledger' is left alone");
        assert.equal(summary.stacks[0].result, "ok");
        assert.deepEqual(summary.stacks[0].configUpdates?.[0], { instance: "billing", result: "ok", taskArn: "arn:aws:ecs:us-east-1:1:task/c/billing", message: "configuration copied onto EFS" });
        assert.deepEqual(recordOf(source, "prod"), { billing: "config-cccc", fresh: "config-dddd", ledger: "config-bbbb" });
        assert.match(log.join(""), /\[prod\] configuration config-cccc of ECS instance 'billing' is not rolled out \(recorded: config-aaaa\): running its config-update task/);
        const table = renderTable(summary);
        assert.match(table, /prod: ECS configuration rollout\n {2}billing: ok \(arn:aws:ecs:us-east-1:1:task\/c\/billing\): configuration copied onto EFS/);
        assert.deepEqual(JSON.parse(renderJson(summary)).stacks[0].configUpdates[0].result, "ok");
    });

    it("a failed rollout: exit 1 (kind rollout) and the next stack skipped; the rerun retries it and succeeds; a third run does nothing", async () => {
        const deployed = outputs({ billing: command("billing", "bbbb"), ledger: command("ledger", "eeee") });
        const source = new FakeSource({ dev: upWith(deployed), prod: ok({ same: 1 }) });
        const rollout = new FakeRollout(["billing"]);
        const failed = await runPipeline(request({ stacks: ["dev", "prod"] }), { ...fakeDeps(source), rollout });
        assert.deepEqual(failed.stacks.map((stack) => stack.result), ["failed", "skipped"]);
        assert.equal(failed.stacks[0].error?.kind, "rollout");
        assert.match(failed.stacks[0].error!.message, /the ECS configuration of 'billing' did not roll out: Prometheus there still runs the previous configuration. The next `up` of this stack retries it/);
        assert.equal(failed.exitCode, 1);
        assert.deepEqual(recordOf(source, "dev"), { ledger: "config-eeee" }, "only the successful update is recorded");

        rollout.failing.length = 0;
        const retried = await runPipeline(request(), { ...fakeDeps(source), rollout });
        assert.equal(retried.exitCode, 0);
        assert.deepEqual(retried.stacks[0].configUpdates?.map((update) => [update.instance, update.result]), [["billing", "ok"]], "the rerun retries only what did not roll out, with no change to deploy");
        assert.deepEqual(recordOf(source, "dev"), { billing: "config-bbbb", ledger: "config-eeee" });

        const third = await runPipeline(request(), { ...fakeDeps(source), rollout });
        assert.equal(third.exitCode, 0);
        assert.equal(third.stacks[0].configUpdates, undefined);
        assert.deepEqual(rollout.ran.map((update) => update.instance), ["billing", "ledger", "billing"]);
    });

    it("runs nothing for preview and without a rollout; forgets the record of a removed instance", async () => {
        const rollout = new FakeRollout();
        const source = new FakeSource({ dev: ok({ same: 1 }) });
        await runPipeline(request({ operation: "preview" }), { ...fakeDeps(source), rollout });
        await runPipeline(request(), fakeDeps(new FakeSource({ dev: upWith(outputs({ billing: command("billing", "aaaa") })) })));
        assert.deepEqual(source.outputReads, [], "preview reads no outputs");
        assert.deepEqual(rollout.ran, []);

        const shrunk = new FakeSource({ dev: upWith(outputs({ billing: command("billing", "aaaa") })) });
        shrunk.tags.set("dev", new Map([[rolloutTagName("billing"), rolloutTagValue("billing", "config-aaaa")], [rolloutTagName("gone"), rolloutTagValue("gone", "config-ffff")], ["team", "payments"]]));
        await runPipeline(request(), { ...fakeDeps(shrunk), rollout });
        assert.deepEqual(rollout.ran, []);
        assert.deepEqual(Object.fromEntries(shrunk.tags.get("dev")!), { [rolloutTagName("billing")]: rolloutTagValue("billing", "config-aaaa"), team: "payments" });
    });

    it("updates every instance when the record cannot be read, and says so when a success cannot be recorded", async () => {
        const source = new FakeSource({ dev: upWith(outputs({ billing: command("billing", "aaaa") })) });
        source.tagsError = new Error("error: the backend refused");
        const rollout = new FakeRollout();
        const log: string[] = [];
        const summary = await runPipeline(request(), { ...fakeDeps(source, log), rollout });
        assert.deepEqual(rollout.ran.map((update) => update.instance), ["billing"]);
        assert.match(log.join(""), /could not read the stack's rollout record \(error: the backend refused\): every ECS instance's configuration is updated/);
        assert.equal(summary.stacks[0].result, "ok");
        assert.match(summary.stacks[0].configUpdates![0].message, /not recorded in the stack: error: the backend refused; the next run updates it again/);
    });
});
