import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { Stack } from "@pulumi/pulumi/automation";
import { projectRoot } from "../support/fixtures";
import { FakeTsuru, startFakeTsuru } from "../support/fake-tsuru";
import { EngineSandbox } from "../support/engine";
import { tsuruProgram } from "../fixtures/tsuru-program/program";

const password = "broker-password-7f3a9c";
const token = "tsuru-token-e2b81d";

function readTree(dir: string): string {
    return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((entry) => entry.isFile())
        .map((entry) => fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8"))
        .join("\n");
}

describe("engine: TsuruService (dynamic provider) through the real engine against the fake Tsuru API", function () {
    this.timeout(5 * 60 * 1000);
    const sandbox = new EngineSandbox(path.join(projectRoot, "test", "fixtures", "tsuru-program", "Pulumi.yaml"));
    let tsuru: FakeTsuru;
    let stack: Stack;

    before(async () => {
        tsuru = await startFakeTsuru({ token, teams: ["platform"] });
        stack = await sandbox.open("engine", async () => tsuruProgram(), { TSURU_TOKEN: token });
        await stack.setAllConfig({
            apiUrl: { value: tsuru.url },
            endpoint: { value: "https://broker-a.example.com" },
            password: { value: password, secret: true },
        });
    });

    after(async () => {
        await tsuru?.close();
        sandbox.cleanup();
    });

    it("creates the service with `up`", async () => {
        const result = await stack.up();
        assert.equal(result.summary.resourceChanges?.create, 2, JSON.stringify(result.summary.resourceChanges));
        const service = tsuru.services.get("prometheus");
        assert.ok(service, "service not registered");
        assert.deepEqual(service.endpoints, { production: "https://broker-a.example.com" });
        assert.equal(service.password, password);
        assert.equal(service.doc, "Prometheus-as-a-Service (engine test)");
        assert.ok(tsuru.requests.every((request) => request.authorization === `bearer ${token}`));
        assert.equal(result.outputs.serviceId.value, "prometheus");
    });

    it("updates it in place with the whole record", async () => {
        await stack.setConfig("endpoint", { value: "https://broker-b.example.com" });
        const result = await stack.up();
        assert.equal(result.summary.resourceChanges?.update, 1, JSON.stringify(result.summary.resourceChanges));
        const service = tsuru.services.get("prometheus")!;
        assert.deepEqual(service.endpoints, { production: "https://broker-b.example.com" });
        assert.equal(service.password, password);
        assert.ok(tsuru.requests.some((request) => request.method === "PUT" && /\/services\/prometheus$/.test(request.path)));
    });

    it("keeps the token and the password out of the state and the stack file in plain text", () => {
        const state = readTree(sandbox.root);
        assert.ok(state.includes("broker-b.example.com"), "state not found");
        assert.ok(!state.includes(token), "token in state");
        assert.ok(!state.includes(password), "password in state");
    });

    it("notices a deletion made in Tsuru with `refresh`, and `up` registers it again", async () => {
        tsuru.services.delete("prometheus");
        const refreshed = await stack.refresh();
        assert.equal(refreshed.summary.resourceChanges?.delete, 1, JSON.stringify(refreshed.summary.resourceChanges));
        await stack.up();
        assert.ok(tsuru.services.get("prometheus"), "up after refresh should register it again");
    });

    it("deletes it with `destroy`", async () => {
        assert.ok(tsuru.services.has("prometheus"), "nothing registered to destroy");
        await stack.destroy();
        assert.equal(tsuru.services.has("prometheus"), false);
        assert.deepEqual(await sandbox.managedResources(stack), []);
    });
});
