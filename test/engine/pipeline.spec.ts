/**
 * The pipeline CLI (automation/cli.ts) against the REAL engine: the Pulumi CLI built by scripts/setup-tools.sh,
 * a throw-away file backend, the `local` stack of this project.
 *
 * Nothing is written into the repository. `pulumi stack init` writes the passphrase salt into
 * Pulumi.<stack>.yaml next to Pulumi.yaml, so the CLI runs with --cwd on a temporary project directory
 * holding only a Pulumi.yaml (this project's, plus `main:` pointing back at the real program) and the stack
 * files (Pulumi.local.yaml with renderYamlToDirectory moved to a temporary dir). The program, its
 * node_modules and tsconfig are the repository's own.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import versions from "../../components/versions.json";
import type { PipelineSummary, StackSummary } from "../../automation/summary";

const projectRoot = path.resolve(__dirname, "..", "..");
const toolsDir = process.env.PAAS_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "prometheus-paas", "tools");
const pulumiDir = path.join(toolsDir, `pulumi-${versions.tools.pulumi}`);
const pulumiBin = path.join(pulumiDir, "pulumi");
const tsNode = path.join(projectRoot, "node_modules", ".bin", "ts-node");
const cliScript = path.join(projectRoot, "automation", "cli.ts");
const stackName = "local";

interface CliRun {
    readonly status: number;
    readonly stdout: string;
    readonly stderr: string;
    readonly summary: PipelineSummary;
    readonly stack: StackSummary;
}

/** Fails (never skips) when the engine is not built: CI must build it. */
function requireEngine(env: NodeJS.ProcessEnv): void {
    if (!fs.existsSync(pulumiBin)) {
        throw new Error(`pulumi CLI ${versions.tools.pulumi} not found at ${pulumiBin}: run \`bash scripts/setup-tools.sh\` (then \`source scripts/tools-env.sh\`)`);
    }
    const plugins = spawnSync(pulumiBin, ["plugin", "ls", "--json"], { env, encoding: "utf8" });
    const list: { name: string; kind: string; version: string }[] = plugins.status === 0 ? JSON.parse(plugins.stdout || "[]") : [];
    const wanted = versions.tools.pulumiKubernetes.replace(/^v/, "");
    if (!list.some((p) => p.kind === "resource" && p.name === "kubernetes" && p.version === wanted)) {
        throw new Error(
            `the Kubernetes resource plugin ${wanted} is not installed in ${env.PULUMI_HOME ?? "~/.pulumi"} ` +
                `(pulumi plugin ls: ${plugins.stdout}${plugins.stderr}): run \`bash scripts/setup-tools.sh\``,
        );
    }
}

/** A snapshot of what the engine could write into the repository by mistake. */
function repoFingerprint(): string {
    const stackFiles = fs
        .readdirSync(projectRoot)
        .filter((name) => /^Pulumi\..*\.ya?ml$|^Pulumi\.ya?ml$/.test(name))
        .sort()
        .map((name) => `${name}:${crypto.createHash("sha256").update(fs.readFileSync(path.join(projectRoot, name))).digest("hex")}`);
    const strays = [".pulumi", "out/manifests", "automation/.pulumi"].filter((rel) => fs.existsSync(path.join(projectRoot, rel)));
    return JSON.stringify({ stackFiles, strays });
}

const advisoryPolicy = "pipeline-e2e-namespace-seen";
const mandatoryPolicy = "pipeline-e2e-deny-namespaces";

/**
 * A two-policy pack: an advisory one that always reports each Namespace, and a mandatory one that only
 * reports when PIPELINE_E2E_DENY=1, so one pack serves the passing and the failing runs.
 * Its @pulumi/policy comes from policy/node_modules (the project's pack; `npm ci` there first).
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
            validateResource: (args, reportViolation) => {
                if (isNamespace(args)) reportViolation("namespace " + args.props.metadata.name + " seen");
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

describe("engine: pipeline CLI on the local stack (real Pulumi CLI, file backend)", function () {
    this.timeout(15 * 60 * 1000);

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-e2e-"));
    const backendDir = path.join(tmp, "backend");
    const workDir = path.join(tmp, "project");
    const manifestsDir = path.join(tmp, "manifests");
    const packDir = path.join(tmp, "policy-pack");
    const summaryFile = path.join(tmp, "summary.json");
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${pulumiDir}${path.delimiter}${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: "local-only-not-a-secret",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // The program is the repository's: its tsconfig, type-checked by `npm test`'s tsc already.
        PULUMI_NODEJS_TSCONFIG_PATH: path.join(projectRoot, "tsconfig.json"),
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
    delete env.PIPELINE_E2E_DENY;
    let fingerprint: string;
    let createdByPreview = 0;

    function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): CliRun {
        const result = spawnSync(tsNode, ["--transpile-only", cliScript, ...args, "--cwd", workDir], {
            cwd: projectRoot,
            env: { ...env, ...extraEnv },
            encoding: "utf8",
            input: "", // stdin is a pipe, not a TTY: the CI situation
            timeout: 10 * 60 * 1000,
            maxBuffer: 64 * 1024 * 1024,
        });
        if (result.error) throw result.error;
        const context = `pipeline ${args.join(" ")} (exit ${result.status})\n--- stderr ---\n${result.stderr}\n--- stdout ---\n${result.stdout}`;
        let summary: PipelineSummary;
        try {
            summary = JSON.parse(args.includes("-") ? result.stdout : fs.readFileSync(summaryFile, "utf8"));
        } catch (err) {
            throw new Error(`no JSON summary: ${err}\n${context}`);
        }
        assert.equal(summary.exitCode, result.status, `JSON exitCode vs process exit code\n${context}`);
        return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, summary, stack: summary.stacks[0] };
    }

    function explain(run: CliRun): string {
        return `exit ${run.status}\n${JSON.stringify(run.summary, null, 2)}\n--- stderr ---\n${run.stderr.slice(-8000)}`;
    }

    before(() => {
        requireEngine(env);
        fingerprint = repoFingerprint();
        fs.mkdirSync(backendDir);
        fs.mkdirSync(workDir);
        const project = yaml.load(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
        project.main = path.relative(workDir, projectRoot); // Pulumi joins `main` to the project dir
        fs.writeFileSync(path.join(workDir, "Pulumi.yaml"), yaml.dump(project));
        const local = yaml.load(fs.readFileSync(path.join(projectRoot, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, any> };
        local.config["prometheus-paas:kubernetes"] = { ...local.config["prometheus-paas:kubernetes"], renderYamlToDirectory: manifestsDir };
        fs.writeFileSync(path.join(workDir, "Pulumi.local.yaml"), yaml.dump(local));
        const broken = structuredClone(local);
        broken.config["prometheus-paas:environment"] = "Not_A_Label";
        broken.config["prometheus-paas:thanos"] = { compactor: { replicas: 2 } };
        fs.writeFileSync(path.join(workDir, "Pulumi.broken.yaml"), yaml.dump(broken));
        writePolicyPack(packDir);
    });

    after(() => {
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("preview --create creates the missing stack and reports only creates, with advisory violations", () => {
        const run = cli(["preview", "--stack", stackName, "--create", "--policy-pack", packDir, "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.equal(run.stack.result, "ok");
        assert.deepEqual(Object.keys(run.stack.changes), ["create"], explain(run));
        createdByPreview = run.stack.changes.create;
        assert.ok(createdByPreview > 10, `expected the whole platform, got ${createdByPreview}`);
        const advisory = run.stack.policyViolations.filter((v) => v.policy === advisoryPolicy);
        assert.ok(advisory.length >= 1, explain(run));
        assert.equal(advisory[0].level, "advisory");
        assert.match(advisory[0].resourceUrn ?? "", /^urn:pulumi:local::prometheus-paas::.*kubernetes:core\/v1:Namespace::/);
        assert.match(advisory[0].message, /namespace .* seen/);
        assert.ok(run.stdout.trim().startsWith("{") && run.stdout.trim().endsWith("}"), "stdout holds only the JSON document");
        assert.match(run.stderr, /^\[local\] /m, "engine output is streamed, prefixed by the stack");
        assert.equal(fs.existsSync(manifestsDir), false, "preview renders nothing");
    });

    it("up without --yes, stdin not a terminal: refuses and changes nothing (exit 1)", () => {
        const result = spawnSync(tsNode, ["--transpile-only", cliScript, "up", stackName, "--cwd", workDir], { cwd: projectRoot, env, encoding: "utf8", input: "" });
        assert.equal(result.status, 1, result.stderr);
        assert.match(result.stderr, /refusing to run 'up' on 'local' without --yes: stdin is not a terminal/);
        assert.equal(fs.existsSync(manifestsDir), false);
    });

    it("first up creates what preview announced and renders the manifests", () => {
        const run = cli(["up", stackName, "--yes", "--policy-pack", packDir, "--json", summaryFile]);
        assert.equal(run.status, 0, explain(run));
        assert.deepEqual(run.stack.changes, { create: createdByPreview }, explain(run));
        assert.ok(run.stack.policyViolations.some((v) => v.policy === advisoryPolicy));
        assert.match(run.stdout, /^local\s+up\s+ok\s+1\s+\d+\s+0\/\d+\s+create=\d+$/m, "table on stdout");
        assert.ok(fs.readdirSync(manifestsDir).length > 0, "renderYamlToDirectory wrote the manifests");
    });

    it("second up reports only `same`", () => {
        const run = cli(["up", "--stack", stackName, "--yes", "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.deepEqual(run.stack.changes, { same: createdByPreview }, explain(run));
    });

    it("a mandatory violation fails up (exit 1) with level, policy, message and URN, and applies nothing", () => {
        const run = cli(["up", stackName, "--yes", "--policy-pack", packDir, "--json", "-"], { PIPELINE_E2E_DENY: "1" });
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.result, "failed");
        assert.equal(run.stack.error?.kind, "policy", explain(run));
        const mandatory = run.stack.policyViolations.filter((v) => v.level === "mandatory");
        assert.ok(mandatory.length >= 1, explain(run));
        assert.equal(mandatory[0].policy, mandatoryPolicy);
        assert.equal(mandatory[0].message, "namespaces are denied by the test");
        assert.match(mandatory[0].policyPack, /^pipeline-e2e/);
        assert.match(mandatory[0].resourceUrn ?? "", /kubernetes:core\/v1:Namespace::/);
        assert.match(run.stderr, /\[mandatory\] pipeline-e2e.*\/pipeline-e2e-deny-namespaces: namespaces are denied by the test/);
    });

    it("preview afterwards shows no changes", () => {
        const run = cli(["preview", stackName, "--policy-pack", packDir, "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.deepEqual(run.stack.changes, { same: createdByPreview }, explain(run));
    });

    it("outputs reports the stack outputs", () => {
        const run = cli(["outputs", stackName, "--json", "-"]);
        assert.equal(run.status, 0, explain(run));
        assert.equal(run.stack.outputs?.environment, "local");
        assert.match(run.stderr, /local: outputs\n(.*\n)*  environment = "local"/);
    });

    it("a locked stack: waits with backoff until --lock-timeout, then explains how to cancel; `pulumi cancel` releases it", () => {
        // The diy backend's lock: .pulumi/locks/<org>/<project>/<stack>/<uuid>.json (pkg/backend/diy/lock.go).
        const lockDir = path.join(backendDir, ".pulumi", "locks", "organization", "prometheus-paas", stackName);
        fs.mkdirSync(lockDir, { recursive: true });
        const lockFile = path.join(lockDir, `${crypto.randomUUID()}.json`);
        fs.writeFileSync(lockFile, JSON.stringify({ pid: 999999, username: "ci", hostname: "other-runner", timestamp: new Date().toISOString() }));

        const started = Date.now();
        const run = cli(["up", stackName, "--yes", "--lock-timeout", "5", "--json", "-"]);
        const elapsed = Date.now() - started;
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.error?.kind, "locked", explain(run));
        assert.ok(run.stack.attempts >= 3, `expected retries (2s, then the remaining 3s): ${explain(run)}`);
        assert.ok(elapsed >= 5000, `waited ${elapsed} ms`);
        const message = run.stack.error!.message;
        assert.match(message, /created by ci@other-runner \(pid 999999\)/);
        assert.match(message, /pulumi cancel --stack local --yes/);
        assert.ok(message.includes(path.join(backendDir, ".pulumi/locks/organization/prometheus-paas/local/")), message);
        assert.match(run.stderr, /\[local\] stack is locked by another update; retrying in/);
        assert.deepEqual(run.stack.changes, {});

        // The advice works: cancel removes the stale lock and the stack is usable again.
        const cancel = spawnSync(pulumiBin, ["cancel", "--stack", stackName, "--yes", "--non-interactive"], { cwd: workDir, env, encoding: "utf8" });
        assert.equal(cancel.status, 0, `${cancel.stdout}${cancel.stderr}`);
        assert.equal(fs.existsSync(lockFile), false, "pulumi cancel deleted the lock file");
        const outputs = cli(["outputs", stackName, "--json", "-"]);
        assert.equal(outputs.status, 0, explain(outputs));
    });

    it("a missing stack fails with how to create it (exit 1)", () => {
        const run = cli(["preview", "--stack", "nosuchstack", "--json", "-"]);
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.error?.kind, "stack-not-found");
        assert.match(run.stack.error!.message, /stack 'nosuchstack' does not exist .*Pass --create/);
    });

    it("config errors from the program surface as prometheus-paas:<key> lines, exit 2; other stacks still preview", () => {
        const run = cli(["preview", "broken", stackName, "--create", "--json", "-"]);
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
