/**
 * The pipeline CLI on a machine laid out like a user's, not this project's: no PAAS_TOOLCHAIN, a `pulumi` on PATH
 * outside the project's tool cache (PAAS_TOOLS_DIR and HOME point elsewhere, so the cache is out of the code's
 * reach), the user's PULUMI_HOME holding what `pulumi plugin install` put there, plugins acquired on demand.
 *
 * How the test sees whose tools ran: the `pulumi` on PATH is a wrapper that logs each call and runs a copy of the
 * CLI; the Kubernetes plugin is a wrapper that logs the path it was started from (inside the user's PULUMI_HOME)
 * and runs a copy of the provider. Both copies live in the test's temp dir.
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import type { PipelineSummary, StackSummary } from "../../automation/summary";
import { toolDirs } from "../../automation/tools";
import versions from "../../components/versions.json";
import { EngineSandbox, testPassphrase } from "../support/engine";
import { projectRoot } from "../support/fixtures";

const tsNode = path.join(projectRoot, "node_modules", ".bin", "ts-node");
const pluginVersion = versions.tools.pulumiKubernetes.pluginVersion;
const pluginTarball = `pulumi-resource-kubernetes-v${pluginVersion}-${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}.tar.gz`;

function script(file: string, body: string): string {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
}

/** A user's machine: their `pulumi` install, their PULUMI_HOME(s), node, and a project sandbox with a file backend. */
class UserMachine {
    readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "paas-user-"));
    readonly sandbox = new EngineSandbox();
    readonly cliLog = path.join(this.root, "cli.log");
    readonly pluginLog = path.join(this.root, "plugin.log");
    readonly installDir = path.join(this.root, "pulumi", "bin");
    readonly pluginWrapper: string;

    constructor() {
        this.sandbox.copyStackFile("local", (config) => {
            config["prometheus-paas:kubernetes"].renderYamlToDirectory = path.join(this.root, "manifests");
        });
        const cli = path.join(this.root, "pulumi", "pulumi.real");
        fs.mkdirSync(path.dirname(cli));
        fs.copyFileSync(path.join(toolDirs.pulumi, "pulumi"), cli);
        script(path.join(this.installDir, "pulumi"), `echo "$*" >> ${this.cliLog}\nexec ${cli} "$@"`);
        // Stands in for the pulumi-language-nodejs of a release (not built here): the engine's fallback for Node.js packs.
        script(path.join(this.installDir, "pulumi-analyzer-policy-nodejs"), 'exec node ./node_modules/@pulumi/pulumi/cmd/run-policy-pack "$@"');
        const provider = path.join(this.root, "provider", "pulumi-resource-kubernetes.real");
        fs.mkdirSync(path.dirname(provider));
        fs.copyFileSync(path.join(toolDirs.pulumiKubernetes, "pulumi-resource-kubernetes"), provider);
        fs.chmodSync(provider, 0o755);
        this.pluginWrapper = script(path.join(this.root, "provider", "pulumi-resource-kubernetes"), `echo "$0" >> ${this.pluginLog}\nexec ${provider} "$@"`);
        fs.mkdirSync(path.join(this.root, "node-bin"));
        fs.symlinkSync(process.execPath, path.join(this.root, "node-bin", "node"));
    }

    home(name: string): string {
        return path.join(this.root, "homes", name, ".pulumi");
    }

    /** The environment of a user's shell: nothing of this project's, `binDir` first on PATH. */
    env(extra: NodeJS.ProcessEnv, binDir = this.installDir): NodeJS.ProcessEnv {
        return {
            HOME: path.join(this.root, "homes"),
            PATH: [binDir, path.join(this.root, "node-bin"), "/usr/bin", "/bin"].join(path.delimiter),
            PAAS_TOOLS_DIR: path.join(this.root, "no-project-tools"),
            // The local stack's passphrase: the copied Pulumi.local.yaml keeps its salt and encrypted passwords.
            PULUMI_CONFIG_PASSPHRASE: testPassphrase,
            TMPDIR: os.tmpdir(),
            ...extra,
        };
    }

    /** `pulumi plugin install resource kubernetes <version> --file ...` into a PULUMI_HOME, as a user does. */
    installPlugin(home: string): void {
        const run = spawnSync("pulumi", ["plugin", "install", "resource", "kubernetes", pluginVersion, "--file", this.pluginWrapper], {
            env: this.env({ PULUMI_HOME: home }),
            cwd: this.root,
            encoding: "utf8",
        });
        assert.equal(run.status, 0, run.stderr);
    }

    /** The pipeline's preview of `local`, as a child process (async: the test's plugin mirror serves meanwhile). */
    async preview(env: NodeJS.ProcessEnv, binDir?: string): Promise<{ status: number; summary: PipelineSummary; stack: StackSummary; stderr: string }> {
        const summaryFile = path.join(this.root, `summary-${Date.now()}.json`);
        const args = ["--transpile-only", path.join(projectRoot, "automation", "cli.ts"), "preview", "local", "--create", "--policy-pack", "policy", "--cwd", this.sandbox.workDir, "--json", summaryFile];
        const child = spawn(tsNode, args, { cwd: projectRoot, env: this.env(env, binDir), stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const status = await new Promise<number>((resolve, reject) => {
            child.on("error", reject);
            child.on("close", (code) => resolve(code ?? -1));
        });
        const summary = JSON.parse(fs.readFileSync(summaryFile, "utf8")) as PipelineSummary;
        return { status, summary, stack: summary.stacks[0], stderr };
    }

    backend(name: string): string {
        const dir = path.join(this.root, "backends", name);
        fs.mkdirSync(dir, { recursive: true });
        return `file://${dir}`;
    }

    cleanup(): void {
        fs.rmSync(this.root, { recursive: true, force: true });
        this.sandbox.cleanup();
    }
}

/** A plugin mirror (what PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES points at): serves one tarball, logs every request. */
async function startMirror(tarball: string): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
    const requests: string[] = [];
    const server = http.createServer((request, response) => {
        requests.push(request.url ?? "");
        if (request.url === `/plugins/${path.basename(tarball)}`) {
            // The CLI checks the body against Content-Length (a chunked reply fails: "expected -1 bytes").
            response.writeHead(200, { "content-type": "application/gzip", "content-length": fs.statSync(tarball).size });
            fs.createReadStream(tarball).pipe(response);
        } else {
            response.writeHead(404).end("not here");
        }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The override for plugins Pulumi would fetch from its GitHub org (pkg workspace/plugins.go matches the source's URL). */
const mirrorOverride = (url: string) => `^github://api\\.github\\.com/pulumi/pulumi-kubernetes$=${url}`;

function explain(run: { stack: StackSummary; stderr: string }): string {
    return `${JSON.stringify(run.stack.error)}\n--- stderr ---\n${run.stderr.slice(-6000)}`;
}

describe("engine: the pipeline on a user's own Pulumi (no PAAS_TOOLCHAIN: pulumi on PATH, the user's PULUMI_HOME and backend)", function () {
    this.timeout(5 * 60 * 1000);
    let machine: UserMachine;

    before(() => {
        machine = new UserMachine();
    });

    after(() => machine?.cleanup());

    it("previews local with the pulumi on PATH and the Kubernetes plugin `pulumi plugin install` put in the user's PULUMI_HOME (policy pack enforced)", async () => {
        const home = machine.home("installed");
        machine.installPlugin(home);
        fs.rmSync(machine.cliLog, { force: true });
        const run = await machine.preview({ PULUMI_HOME: home, PULUMI_BACKEND_URL: machine.backend("installed") });
        assert.equal(run.status, 0, explain(run));
        assert.ok((run.stack.changes.create ?? 0) > 0, JSON.stringify(run.stack.changes));
        assert.deepEqual(run.summary.policyPacks, [path.join(projectRoot, "policy")]);
        const calls = fs.readFileSync(machine.cliLog, "utf8").split("\n");
        assert.ok(calls.includes("version"), calls.join("\n"));
        assert.ok(calls.some((call) => call.startsWith("preview ")), calls.join("\n"));
        const started = new Set(fs.readFileSync(machine.pluginLog, "utf8").trim().split("\n"));
        assert.deepEqual([...started], [path.join(home, "plugins", `resource-kubernetes-v${pluginVersion}`, "pulumi-resource-kubernetes")]);
    });

    it("acquires a missing plugin automatically into the user's PULUMI_HOME, from the mirror PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES names", async () => {
        const tarDir = path.join(machine.root, "mirror");
        fs.mkdirSync(tarDir);
        fs.copyFileSync(machine.pluginWrapper, path.join(tarDir, "pulumi-resource-kubernetes"));
        const tarball = path.join(tarDir, pluginTarball);
        const tar = spawnSync("tar", ["-C", tarDir, "-czf", tarball, "pulumi-resource-kubernetes"], { encoding: "utf8" });
        assert.equal(tar.status, 0, tar.stderr);
        const mirror = await startMirror(tarball);
        try {
            const home = machine.home("acquired");
            fs.rmSync(machine.pluginLog, { force: true });
            const run = await machine.preview({ PULUMI_HOME: home, PULUMI_BACKEND_URL: machine.backend("acquired"), PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES: mirrorOverride(`${mirror.url}/plugins`) });
            assert.equal(run.status, 0, explain(run));
            assert.deepEqual(mirror.requests, [`/plugins/${pluginTarball}`]);
            const started = new Set(fs.readFileSync(machine.pluginLog, "utf8").trim().split("\n"));
            assert.deepEqual([...started], [path.join(home, "plugins", `resource-kubernetes-v${pluginVersion}`, "pulumi-resource-kubernetes")]);
        } finally {
            await mirror.close();
        }
    });

    it("a plugin that cannot be acquired: exit 1, plugin-missing, naming kubernetes and the version the SDK asks for, after a real download attempt", async () => {
        const mirror = await startMirror(path.join(machine.root, "nothing.tar.gz"));
        try {
            const run = await machine.preview({ PULUMI_HOME: machine.home("empty"), PULUMI_BACKEND_URL: machine.backend("empty"), PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES: mirrorOverride(`${mirror.url}/gone`) });
            assert.equal(run.status, 1, explain(run));
            assert.equal(run.stack.error?.kind, "plugin-missing", explain(run));
            assert.match(run.stack.error!.message, new RegExp(`^the resource plugin 'kubernetes' v${pluginVersion.replace(/\./g, "\\.")} \\(the version the program's SDK asks for\\) is not installed and could not be acquired: .*'pulumi plugin install resource kubernetes v${pluginVersion.replace(/\./g, "\\.")}'`));
            assert.ok(mirror.requests.includes(`/gone/${pluginTarball}`), mirror.requests.join("\n"));
        } finally {
            await mirror.close();
        }
    });

    it("no backend login (no PULUMI_BACKEND_URL, token or `pulumi login`): exit 1, backend-login, saying how to log in", async () => {
        const run = await machine.preview({ PULUMI_HOME: machine.home("installed") });
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.error?.kind, "backend-login", explain(run));
        assert.match(run.stack.error!.message, /^not logged in to a Pulumi backend .*Set PULUMI_ACCESS_TOKEN for Pulumi Cloud, or PULUMI_BACKEND_URL .*'pulumi login <url>'/);
    });

    it("no pulumi on PATH: exit 1, cli-missing, saying how to install it and that scripts/setup.sh builds one", async () => {
        const empty = path.join(machine.root, "empty-bin");
        fs.mkdirSync(empty, { recursive: true });
        const run = await machine.preview({ PULUMI_HOME: machine.home("installed"), PULUMI_BACKEND_URL: machine.backend("installed") }, empty);
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.error?.kind, "cli-missing");
        assert.match(run.stack.error!.message, /^no 'pulumi' on PATH: install the Pulumi CLI \(https:\/\/www\.pulumi\.com\/docs\/iac\/download-install\/.*\), or build this project's with 'bash scripts\/setup\.sh' and choose it with PAAS_TOOLCHAIN=offline$/);
    });

    it("a pulumi below the minimum 3.2.0: exit 1, cli-missing, naming the minimum and the version found", async () => {
        const old = path.join(machine.root, "old-bin");
        script(path.join(old, "pulumi"), 'echo v3.1.0');
        const run = await machine.preview({ PULUMI_HOME: machine.home("installed"), PULUMI_BACKEND_URL: machine.backend("installed") }, old);
        assert.equal(run.status, 1, explain(run));
        assert.equal(run.stack.error?.kind, "cli-missing");
        assert.equal(run.stack.error!.message, `the pulumi CLI on PATH (${path.join(old, "pulumi")}) is version 3.1.0, below the minimum 3.2.0 (the Automation API of @pulumi/pulumi 3.248.0): upgrade it (https://www.pulumi.com/docs/iac/download-install/)`);
    });

    it("PAAS_TOOLCHAIN set to something else: exit 1 naming the variable and its values", async () => {
        const run = await machine.preview({ PAAS_TOOLCHAIN: "cache", PULUMI_HOME: machine.home("installed"), PULUMI_BACKEND_URL: machine.backend("installed") });
        assert.equal(run.status, 1, explain(run));
        assert.match(run.stack.error!.message, /^PAAS_TOOLCHAIN='cache' is not a toolchain/);
    });

    // It checks the CLI before it listens, so the port is never bound.
    it("the broker follows the same rule: it refuses the user's pulumi below 3.188.0 (stack rm --remove-backups), naming both", () => {
        const old = path.join(machine.root, "broker-old-bin");
        script(path.join(old, "pulumi"), 'echo v3.187.0');
        const backend = machine.backend("broker");
        const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(projectRoot, "broker", "cli.ts"), "--port", "1", "--backend", backend, "--target", `render:${path.join(machine.root, "broker-render")}`], {
            cwd: projectRoot,
            env: machine.env({ PAAS_BROKER_USERNAME: "u", PAAS_BROKER_PASSWORD: "p", PAAS_BROKER_BACKEND_PASSPHRASE: "x" }, old),
            encoding: "utf8",
            timeout: 60_000,
        });
        assert.equal(run.status, 1, run.stderr);
        assert.match(run.stderr, /the pulumi CLI on PATH \(.*broker-old-bin\/pulumi\) is version 3\.187\.0, below the minimum 3\.188\.0 \(the broker's 'pulumi stack rm --remove-backups'\)/);
    });
});
