import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { EngineEvent, PolicyEvent } from "@pulumi/pulumi/automation";
import { projectRoot } from "../support/fixtures";
import { EngineSandbox } from "../support/engine";
import { leakyProgram } from "../fixtures/leaky-program";

const policyPack = path.join(projectRoot, "policy");

describe("engine: the project's policy pack enforced by the real engine", function () {
    this.timeout(5 * 60 * 1000);
    const sandbox = new EngineSandbox();
    const manifestsDir = path.join(sandbox.root, "manifests");

    before(() => {
        sandbox.copyStackFile("local", (config) => {
            config["prometheus-paas:kubernetes"].renderYamlToDirectory = manifestsDir;
        });
    });

    after(() => sandbox.cleanup());

    const policyEvents = () => {
        const events: PolicyEvent[] = [];
        return { events, onEvent: (event: EngineEvent) => event.policyEvent && events.push(event.policyEvent) };
    };

    it("passes the local stack: the pack ran, no mandatory violation", async () => {
        const stack = await sandbox.open("local");
        const { events, onEvent } = policyEvents();
        const result = await stack.preview({ policyPacks: [policyPack], onEvent });
        assert.ok((result.changeSummary.create ?? 0) > 20, JSON.stringify(result.changeSummary));
        assert.deepEqual(events.filter((event) => event.enforcementLevel === "mandatory"), []);
        assert.match(result.stdout, /Policies:\s*\n\s*✅ prometheus-paas@v0\.1\.0 \(local: .*policy\)/u, result.stdout);
    });

    it("fails a program that puts bucket keys in a ConfigMap, naming the policy", async () => {
        sandbox.copyStackFile("local", (config) => {
            config["prometheus-paas:kubernetes"].renderYamlToDirectory = manifestsDir;
        }, "leaky");
        const stack = await sandbox.open("leaky", async () => leakyProgram(manifestsDir));
        const { events, onEvent } = policyEvents();
        await assert.rejects(stack.up({ policyPacks: [policyPack], onEvent }), (error: Error) => {
            assert.match(error.message, /❌ prometheus-paas@v0\.1\.0 .*\n\s+- \[mandatory\] \[severity: critical\]\s+no-credentials-in-configmaps\s+\(kubernetes:core\/v1:ConfigMap: leaky-objstore\)/u);
            return true;
        });
        const violation = events.find((event) => event.policyName === "no-credentials-in-configmaps");
        assert.ok(violation, JSON.stringify(events));
        assert.equal(violation.enforcementLevel, "mandatory");
        assert.match(violation.resourceUrn ?? "", /ConfigMap::leaky-objstore$/);
        const created = await sandbox.managedResources(stack);
        assert.ok(!created.some((urn) => urn.endsWith("::leaky-objstore")), "the offending ConfigMap was never created");
        assert.ok(!fs.existsSync(path.join(manifestsDir, "1-manifest", "v1-configmap-prometheus-local-leaky-objstore.yaml")), "nor rendered");
    });
});
