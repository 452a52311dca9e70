/**
 * The pipeline CLI (automation/cli.ts) as a child process against the REAL engine: the Pulumi CLI that
 * scripts/setup-tools.sh builds, the inline stack program, a throw-away file backend and the `local` stack.
 * Nothing is written into the repository: --cwd is a sandbox project dir holding this project's Pulumi.yaml and
 * the stack files (stack init writes the passphrase salt there).
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { PipelineSummary, StackSummary } from "../../automation/summary";
import { engineEnvVars, toolDirs } from "../../automation/tools";
import { projectRoot } from "../support/fixtures";
import { EngineSandbox, repoFingerprint } from "../support/engine";

const tsNode = path.join(projectRoot, "node_modules", ".bin", "ts-node");
const cliScript = path.join(projectRoot, "automation", "cli.ts");

interface CliRun {
    readonly status: number;
    readonly stdout: string;
    readonly stderr: string;
    readonly summary: PipelineSummary;
    /** The first stack's summary. */
    readonly stack: StackSummary;
}

/** An engine sandbox driven through the pipeline CLI, with the local stack's manifests in the sandbox. */
class Sandbox extends EngineSandbox {
    readonly manifestsDir = path.join(this.root, "manifests");
    readonly summaryFile = path.join(this.root, "summary.json");
    readonly env: NodeJS.ProcessEnv = { ...process.env, ...this.envVars };

    constructor() {
        super();
        this.copyStackFile("local", (config) => {
            config["prometheus-paas:kubernetes"].renderYamlToDirectory = this.manifestsDir;
        });
    }

    lockDir(stack: string): string {
        // The diy backend's lock: .pulumi/locks/<org>/<project>/<stack>/<uuid>.json (pkg/backend/diy/lock.go).
        return path.join(this.backendDir, ".pulumi", "locks", "organization", "prometheus-paas", stack);
    }

    private args(args: string[]): string[] {
        return ["--transpile-only", cliScript, ...args, "--cwd", this.workDir];
    }

    /** Runs the CLI with stdin a pipe (not a TTY: the CI situation). */
    spawn(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
        const result = spawnSync(tsNode, this.args(args), {
            cwd: projectRoot,
            env: { ...this.env, ...extraEnv },
            encoding: "utf8",
            input: "",
            timeout: 10 * 60 * 1000,
            maxBuffer: 64 * 1024 * 1024,
        });
        if (result.error) throw result.error;
        return result;
    }

    /** The CLI in the background (stdin closed), for runs that overlap. */
    spawnAsync(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ status: number; stdout: string; stderr: string }> {
        return new Promise((resolve, reject) => {
            const child = spawn(tsNode, this.args(args), { cwd: projectRoot, env: { ...this.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (chunk) => (stdout += chunk));
            child.stderr.on("data", (chunk) => (stderr += chunk));
            child.on("error", reject);
            child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
        });
    }

    /** Reads a CLI run's JSON summary (stdout with `--json -`, else the file after `--json`). */
    parse(args: string[], result: { status: number | null; stdout: string; stderr: string }): CliRun {
        const context = `pipeline ${args.join(" ")} (exit ${result.status})\n--- stderr ---\n${result.stderr.slice(-8000)}\n--- stdout ---\n${result.stdout.slice(-8000)}`;
        let summary: PipelineSummary;
        try {
            const file = args[args.indexOf("--json") + 1];
            summary = JSON.parse(file === "-" ? result.stdout : fs.readFileSync(file, "utf8"));
        } catch (err) {
            throw new Error(`no JSON summary: ${err}\n${context}`);
        }
        assert.equal(summary.exitCode, result.status, `JSON exitCode vs process exit code\n${context}`);
        return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, summary, stack: summary.stacks[0] };
    }

    cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): CliRun {
        return this.parse(args, this.spawn(args, extraEnv));
    }
}

function explain(run: CliRun): string {
    return `exit ${run.status}\n${JSON.stringify(run.summary, null, 2)}\n--- stderr ---\n${run.stderr.slice(-8000)}`;
}

describe("engine: pipeline CLI, backend behaviour (real Pulumi CLI, file backend)", function () {
    this.timeout(5 * 60 * 1000);
    let sandbox: Sandbox;
    let fingerprint: string;

    before(() => {
        fingerprint = repoFingerprint();
        sandbox = new Sandbox();
    });

    after(() => sandbox?.cleanup());

    it("says how to get the engine when the tools are not built (exit 1)", () => {
        const emptyToolsDir = path.join(sandbox.root, "no-tools");
        const run = sandbox.cli(["outputs", "local", "--json", "-"], { PAAS_TOOLS_DIR: emptyToolsDir, PATH: path.dirname(process.execPath) });
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.error?.kind, "cli-missing");
        assert.match(run.stack.error!.message, /the Pulumi engine is not ready \(PAAS_TOOLCHAIN=offline\): .*Kubernetes provider plugin 4\.24\.1 is not installed.*no pulumi CLI at .*bash scripts\/setup\.sh/);
    });

    it("a missing stack fails with how to create it (exit 1)", () => {
        const run = sandbox.cli(["outputs", "--stack", "local", "--json", "-"]);
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.error?.kind, "stack-not-found", explain(run));
        assert.match(run.stack.error!.message, /stack 'local' does not exist in PULUMI_BACKEND_URL=file:\/\/.*Pass --create/);
    });

    it("--create creates the stack in the file backend (its salt goes to the temporary stack file)", () => {
        const run = sandbox.cli(["outputs", "--stack", "local", "--create", "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.deepEqual(run.stack.outputs, {});
        assert.ok(fs.existsSync(path.join(sandbox.backendDir, ".pulumi", "stacks", "prometheus-paas", "local.json")), "stack state in the backend");
        assert.match(fs.readFileSync(path.join(sandbox.workDir, "Pulumi.local.yaml"), "utf8"), /^encryptionsalt: /m);
    });

    it("refuses up without --yes when stdin is not a terminal (exit 1), and never reaches the engine", () => {
        const result = sandbox.spawn(["up", "local"]);
        assert.equal(result.status, 1, result.stderr);
        assert.match(result.stderr, /refusing to run 'up' on 'local' without --yes: stdin is not a terminal/);
        assert.doesNotMatch(result.stderr, /\[local\]/);
    });

    it("a locked stack: retries with backoff until --lock-timeout, then explains how to cancel; `pulumi cancel` releases it", () => {
        const lockFile = path.join(sandbox.lockDir("local"), `${crypto.randomUUID()}.json`);
        fs.mkdirSync(path.dirname(lockFile), { recursive: true });
        fs.writeFileSync(lockFile, JSON.stringify({ pid: 999999, username: "ci", hostname: "other-runner", timestamp: new Date().toISOString() }));

        const started = Date.now();
        const run = sandbox.cli(["up", "local", "--yes", "--lock-timeout", "5", "--json", "-"]);
        const elapsed = Date.now() - started;
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.result, "failed");
        assert.equal(run.stack.error?.kind, "locked", explain(run));
        // 2s (+-20%), then what is left of the 5s, then the last attempt.
        assert.equal(run.stack.attempts, 3, explain(run));
        assert.ok(elapsed >= 5000 && run.stack.durationMs >= 5000, `waited ${elapsed} ms`);
        const message = run.stack.error!.message;
        assert.match(message, /still locked after waiting \d+s \(--lock-timeout 5s, 3 attempts\)/);
        assert.equal(message.match(/created by ci@other-runner \(pid 999999\)/g)?.length, 1, message);
        assert.match(message, /pulumi cancel --stack local --yes/);
        assert.ok(message.includes(`${sandbox.lockDir("local")}/`), message);
        assert.equal((run.stderr.match(/\[local\] stack is locked by another update; retrying in/g) ?? []).length, 2, run.stderr);
        assert.match(run.stderr, /^\[local\] error: the stack is currently locked by 1 lock\(s\)/m, "engine stderr streamed with the stack prefix");

        // The advice works: cancel deletes the stale lock file and updates go through again.
        const cancel = spawnSync(path.join(toolDirs.pulumi, "pulumi"), ["cancel", "--stack", "local", "--yes", "--non-interactive"], {
            cwd: sandbox.workDir,
            env: { ...sandbox.env, ...engineEnvVars() },
            encoding: "utf8",
        });
        assert.equal(cancel.status, 0, `${cancel.stdout}${cancel.stderr}`);
        assert.equal(fs.existsSync(lockFile), false, "pulumi cancel deleted the lock file");
        const refresh = sandbox.cli(["refresh", "local", "--yes", "--lock-timeout", "0", "--json", "-"]);
        assert.equal(refresh.status, 0, explain(refresh));
        assert.equal(refresh.stack.attempts, 1);
    });

    it("leaves the repository untouched", () => {
        assert.equal(repoFingerprint(), fingerprint);
    });
});

const advisoryPolicy = "pipeline-e2e-namespace-seen";
const mandatoryPolicy = "pipeline-e2e-deny-namespaces";

/**
 * A two-policy pack: an advisory policy that reports each Namespace, and a mandatory one that reports only
 * when PIPELINE_E2E_DENY=1, so one pack serves the passing and the failing runs. Its @pulumi/policy comes
 * from policy/node_modules (the project's pack; `npm ci` there first).
 */
function writePolicyPack(dir: string): void {
    const policyModules = path.join(projectRoot, "policy", "node_modules");
    if (!fs.existsSync(path.join(policyModules, "@pulumi", "policy"))) {
        throw new Error(`@pulumi/policy is not installed in ${policyModules}: run \`npm ci\` in policy/`);
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\ndescription: pipeline engine test pack\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pipeline-e2e", version: "0.0.1", main: "index.js" }));
    fs.symlinkSync(policyModules, path.join(dir, "node_modules"), "dir");
    fs.writeFileSync(
        path.join(dir, "index.js"),
        `const { PolicyPack } = require("@pulumi/policy");
const isNamespace = (args) => args.type === "kubernetes:core/v1:Namespace";
new PolicyPack("pipeline-e2e", {
    policies: [
        {
            name: "${advisoryPolicy}",
            description: "Reports every Namespace (advisory, never blocks).",
            enforcementLevel: "advisory",
            validateResource: async (args, reportViolation) => {
                if (isNamespace(args)) reportViolation("namespace " + args.props.metadata.name + " seen");
                // Lets a test hold the stack's lock for a while.
                if (isNamespace(args) && process.env.PIPELINE_E2E_SLOW_MS) await new Promise((r) => setTimeout(r, Number(process.env.PIPELINE_E2E_SLOW_MS)));
            },
        },
        {
            name: "${mandatoryPolicy}",
            description: "Blocks Namespaces when PIPELINE_E2E_DENY=1.",
            enforcementLevel: "mandatory",
            validateResource: (args, reportViolation) => {
                if (process.env.PIPELINE_E2E_DENY === "1" && isNamespace(args)) reportViolation("namespaces are denied by the test");
            },
        },
    ],
});
`,
    );
}

describe("engine: pipeline CLI on the local stack's program (real Pulumi CLI, Kubernetes provider, policy packs)", function () {
    this.timeout(15 * 60 * 1000);
    let sandbox: Sandbox;
    let packDir: string;
    let fingerprint: string;
    let createdByPreview = 0;

    before(() => {
        sandbox = new Sandbox();
        fingerprint = repoFingerprint();
        packDir = path.join(sandbox.root, "policy-pack");
        writePolicyPack(packDir);
        sandbox.copyStackFile("local", (config) => {
            config["prometheus-paas:environment"] = "Not_A_Label";
            config["prometheus-paas:thanos"] = { compactor: { replicas: 2 } };
        }, "broken");
    });

    after(() => sandbox?.cleanup());

    it("preview --create: only creates, advisory violations with their URN, JSON alone on stdout", () => {
        const run = sandbox.cli(["preview", "--stack", "local", "--create", "--policy-pack", packDir, "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.equal(run.stack.result, "ok");
        assert.deepEqual(Object.keys(run.stack.changes), ["create"], explain(run));
        createdByPreview = run.stack.changes.create;
        assert.ok(createdByPreview > 10, `expected the whole platform, got ${createdByPreview}`);
        const advisory = run.stack.policyViolations.filter((v) => v.policy === advisoryPolicy);
        assert.ok(advisory.length >= 1, explain(run));
        assert.equal(advisory[0].level, "advisory");
        assert.match(advisory[0].policyPack, /^pipeline-e2e/);
        assert.match(advisory[0].resourceUrn ?? "", /^urn:pulumi:local::prometheus-paas::.*kubernetes:core\/v1:Namespace::/);
        assert.match(advisory[0].message, /namespace .* seen/);
        assert.ok(run.stdout.trim().startsWith("{") && run.stdout.trim().endsWith("}"), "stdout holds only the JSON document");
        assert.match(run.stderr, /^\[local\] /m, "engine output is streamed, prefixed by the stack");
        assert.equal(fs.existsSync(sandbox.manifestsDir), false, "preview renders nothing");
    });

    it("first up creates what preview announced and renders the manifests", () => {
        const run = sandbox.cli(["up", "local", "--yes", "--policy-pack", packDir, "--json", sandbox.summaryFile]);
        assert.equal(run.status, 0, explain(run));
        assert.deepEqual(run.stack.changes, { create: createdByPreview }, explain(run));
        assert.ok(run.stack.policyViolations.some((v) => v.policy === advisoryPolicy));
        assert.match(run.stdout, /^local\s+up\s+ok\s+1\s+\d+\s+0\/\d+\s+create=\d+$/m, "the table is on stdout");
        assert.ok(fs.readdirSync(sandbox.manifestsDir).length > 0, "renderYamlToDirectory wrote the manifests");
    });

    it("second up reports only `same`", () => {
        const run = sandbox.cli(["up", "--stack", "local", "--yes", "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.deepEqual(run.stack.changes, { same: createdByPreview }, explain(run));
    });

    it("two overlapping `up`s of one stack: the second meets the real lock, retries, and then succeeds", async () => {
        const args = (name: string) => ["up", "local", "--yes", "--policy-pack", packDir, "--lock-timeout", "300", "--json", path.join(sandbox.root, `${name}.json`)];
        const first = sandbox.spawnAsync(args("first"), { PIPELINE_E2E_SLOW_MS: "15000" });
        const deadline = Date.now() + 120_000;
        while (!(fs.existsSync(sandbox.lockDir("local")) && fs.readdirSync(sandbox.lockDir("local")).length > 0)) {
            assert.ok(Date.now() < deadline, "the first up never took the lock");
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const second = sandbox.spawnAsync(args("second"));
        const [firstRun, secondRun] = (await Promise.all([first, second])).map((result, index) => sandbox.parse(args(["first", "second"][index]), result));
        assert.equal(firstRun.stack.result, "ok", explain(firstRun));
        assert.equal(firstRun.stack.attempts, 1, explain(firstRun));
        assert.equal(secondRun.stack.result, "ok", explain(secondRun));
        assert.ok(secondRun.stack.attempts >= 2, `the second up should have met the lock: ${explain(secondRun)}`);
        assert.match(secondRun.stdout, /\[local\] stack is locked by another update; retrying in/, "human output is on stdout with --json <file>");
        assert.deepEqual(secondRun.stack.changes, { same: createdByPreview }, explain(secondRun));
    });

    it("a mandatory violation fails up (exit 1) with level, policy, message and URN", () => {
        const run = sandbox.cli(["up", "local", "--yes", "--policy-pack", packDir, "--json", "-"], { PIPELINE_E2E_DENY: "1" });
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.result, "failed");
        assert.equal(run.stack.error?.kind, "policy", explain(run));
        const mandatory = run.stack.policyViolations.filter((v) => v.level === "mandatory");
        assert.ok(mandatory.length >= 1, explain(run));
        assert.equal(mandatory[0].policy, mandatoryPolicy);
        assert.equal(mandatory[0].message, "namespaces are denied by the test");
        assert.match(mandatory[0].resourceUrn ?? "", /kubernetes:core\/v1:Namespace::/);
        assert.match(run.stderr, /- \[mandatory\]\s+pipeline-e2e-deny-namespaces\s+\(kubernetes:core\/v1:Namespace: namespace\)\n.*\n\[local\]\s+namespaces are denied by the test/);
    });

    it("preview afterwards shows no changes", () => {
        const run = sandbox.cli(["preview", "local", "--policy-pack", packDir, "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.deepEqual(run.stack.changes, { same: createdByPreview }, explain(run));
    });

    it("outputs reports the stack outputs", () => {
        const run = sandbox.cli(["outputs", "local", "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.equal(run.stack.outputs?.environment, "local");
    });

    it("config errors surface as prometheus-paas:<key> lines with exit 2; the other stack still previews", () => {
        const run = sandbox.cli(["preview", "broken", "local", "--create", "--json", "-"]);
        assert.equal(run.status, 2, explain(run));
        const [broken, local] = run.summary.stacks;
        assert.equal(broken.error?.kind, "config", explain(run));
        assert.ok(broken.error!.configProblems.some((p) => /^prometheus-paas:environment: environment must be a DNS-1123 label/.test(p)), explain(run));
        assert.ok(broken.error!.configProblems.some((p) => /^prometheus-paas:thanos\.compactor\.replicas: the compactor must be a singleton/.test(p)), explain(run));
        assert.equal(local.result, "ok");
        assert.match(run.stderr, /broken: failed \(config\)\n  invalid configuration for stack 'broken'/);
    });

    it("leaves the repository untouched", () => {
        assert.equal(repoFingerprint(), fingerprint);
    });
});
