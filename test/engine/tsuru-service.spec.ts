import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../support/fixtures";
import { FakeTsuru, startFakeTsuru } from "../support/fake-tsuru";
import { engineEnv, pulumiBinary, temporaryProject } from "../support/tools";

const programDir = path.join(projectRoot, "test", "fixtures", "tsuru-program");
const password = "broker-password-7f3a9c";
const token = "tsuru-token-e2b81d";

/** Runs the CLI without blocking the event loop: the fake Tsuru API answers from this process. */
function pulumi(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(pulumiBinary(), [...args, "--non-interactive"], { cwd, env });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`pulumi ${args.join(" ")} exited ${code}:\n${output}`))));
    });
}

function readTree(dir: string): string {
    return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((entry) => entry.isFile())
        .map((entry) => fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8"))
        .join("\n");
}

describe("engine: TsuruService through the real CLI against the fake Tsuru API", function () {
    this.timeout(15 * 60 * 1000);
    let tsuru: FakeTsuru;
    let backendDir: string;
    let projectDir: string;
    let env: NodeJS.ProcessEnv;
    const stackArgs = () => ["--stack", "engine"];
    const run = (args: string[]) => pulumi(args, env, projectDir);

    before(async () => {
        tsuru = await startFakeTsuru({ token, teams: ["platform"] });
        backendDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-tsuru-backend-"));
        projectDir = temporaryProject(programDir);
        env = engineEnv(backendDir);
        await run(["stack", "init", "engine"]);
        await run(["config", "set", "apiUrl", tsuru.url, ...stackArgs()]);
        await run(["config", "set", "endpoint", "https://broker-a.example.com", ...stackArgs()]);
        await run(["config", "set", "--secret", "password", password, ...stackArgs()]);
        await run(["config", "set", "--secret", "tsuru:token", token, ...stackArgs()]);
    });

    after(async () => {
        await tsuru?.close();
        for (const dir of [backendDir, projectDir]) {
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("creates the service with `up`", async () => {
        await run(["up", "--yes", "--skip-preview", ...stackArgs()]);
        const service = tsuru.services.get("prometheus");
        assert.ok(service, "service not registered");
        assert.deepEqual(service.endpoints, { production: "https://broker-a.example.com" });
        assert.equal(service.password, password);
        assert.equal(service.doc, "Prometheus-as-a-Service (engine test)");
        assert.ok(tsuru.requests.every((request) => request.authorization === `bearer ${token}`));
    });

    it("updates it in place with the whole record", async () => {
        await run(["config", "set", "endpoint", "https://broker-b.example.com", ...stackArgs()]);
        const output = await run(["up", "--yes", "--skip-preview", ...stackArgs()]);
        assert.match(output, /1 updated/);
        const service = tsuru.services.get("prometheus")!;
        assert.deepEqual(service.endpoints, { production: "https://broker-b.example.com" });
        assert.equal(service.password, password);
        assert.ok(tsuru.requests.some((request) => request.method === "PUT" && /\/services\/prometheus$/.test(request.path)));
    });

    it("keeps the token and the password out of the state in plain text", () => {
        const state = readTree(backendDir);
        assert.ok(state.includes("prometheus"), "state not found");
        assert.ok(!state.includes(token), "token in state");
        assert.ok(!state.includes(password), "password in state");
    });

    it("notices a deletion made in Tsuru with `refresh`", async () => {
        tsuru.services.delete("prometheus");
        await run(["refresh", "--yes", "--skip-preview", ...stackArgs()]);
        await run(["up", "--yes", "--skip-preview", ...stackArgs()]);
        assert.ok(tsuru.services.get("prometheus"), "up after refresh should register it again");
    });

    it("deletes it with `destroy`", async () => {
        assert.ok(tsuru.services.has("prometheus"), "nothing registered to destroy");
        await run(["destroy", "--yes", "--skip-preview", ...stackArgs()]);
        assert.equal(tsuru.services.has("prometheus"), false);
    });
});
