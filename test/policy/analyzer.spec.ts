/**
 * The pack under the engine's protocol: started the way the Node.js language host starts a policy pack
 * (ts-node with type checking, in policy/), driven over gRPC like the engine drives an analyzer. Its verdicts
 * must equal the harness's on the same resources, so the per-stack check and `pulumi preview --policy-pack`
 * agree.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { policies } from "../../policy/policies";
import type { DriverResource, DriverResult } from "../support/analyzer-driver";
import { evaluate, Finding, HarnessResource } from "../support/policy-harness";
import {
    bucketSet,
    compactorStatefulSet,
    ecsPrometheusTask,
    edit,
    editContainers,
    objstoreSecret,
    platformLabels,
    prometheusConfigMap,
    prometheusContainer,
    prometheusStatefulSet,
    queryDeployment,
    tsdbVolume,
    tsuruService,
} from "./fixtures";
import { unknownString } from "../../policy/policies";

const root = path.resolve(__dirname, "..", "..");
const secretSignature = { key: "4dabf18193072939515e22adb298388d", secret: "1b47061264138c4ac30d75fd1eb44270" };

/** The engine's wire form: secret paths wrapped in the secret signature. */
function toWire(properties: Record<string, any>, secretPaths: readonly string[]): Record<string, unknown> {
    const copy = structuredClone(properties);
    for (const secretPath of secretPaths) {
        const keys = secretPath.split(".");
        const holder = keys.slice(0, -1).reduce((object: any, key) => object?.[key], copy);
        const last = keys[keys.length - 1];
        if (holder && last in holder) holder[last] = { [secretSignature.key]: secretSignature.secret, value: holder[last] };
    }
    return JSON.parse(JSON.stringify(copy));
}

function runDriver(resources: readonly HarnessResource[]): DriverResult {
    const job: { resources: DriverResource[] } = {
        resources: resources.map((resource) => ({
            type: resource.type,
            name: resource.name,
            urn: resource.urn,
            properties: toWire(resource.inputs, resource.secretPaths),
            outputs: toWire(resource.outputs, resource.secretPaths),
            parent: resource.parent,
            dependencies: [...resource.dependencies],
            propertyDependencies: Object.fromEntries(Object.entries(resource.propertyDependencies).map(([key, urns]) => [key, [...urns]])),
            additionalSecretOutputs: [...resource.additionalSecretOutputs],
        })),
    };
    const run = spawnSync(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), path.join(root, "test", "support", "analyzer-driver.ts")], {
        cwd: root,
        input: JSON.stringify(job),
        encoding: "utf8",
        timeout: 240_000,
        maxBuffer: 64 * 1024 * 1024,
    });
    assert.strictEqual(run.status, 0, `analyzer driver failed (${run.status ?? run.signal}):\n${run.stderr}`);
    return JSON.parse(run.stdout) as DriverResult;
}

const key = (f: { policy?: string; policyName?: string; enforcementLevel: string; message: string }) => `${f.policy ?? f.policyName} [${f.enforcementLevel}] ${f.message}`;

/** The SDK puts the policy's description in front of each message it sends the engine. */
function withoutDescription(diagnostic: DriverResult["analyze"][number]) {
    const description = policies.find((p) => p.name === diagnostic.policyName)?.description ?? "";
    assert.ok(diagnostic.message.startsWith(`${description}\n`), diagnostic.message);
    return { ...diagnostic, message: diagnostic.message.slice(description.length + 1) };
}

describe("policy pack under the engine's analyzer protocol", function () {
    this.timeout(300_000);

    const resources: HarnessResource[] = [
        // Compliant resources, as the components register them.
        prometheusStatefulSet("payments"),
        prometheusConfigMap("payments"),
        queryDeployment(),
        objstoreSecret(),
        compactorStatefulSet(),
        ...bucketSet("thanos-dev", { linkBy: "dependency" }).all,
        tsuruService("s3cr3t", { secretPaths: ["password"], additionalSecretOutputs: ["password"] }),
        // Violations of resource policies.
        edit(prometheusStatefulSet("search"), (inputs) => {
            delete tsdbVolume(inputs).emptyDir.sizeLimit;
            prometheusContainer(inputs).image = "quay.io/prometheus/prometheus:latest";
        }),
        editContainers(ecsPrometheusTask(), (definitions) => definitions[1].environment.push({ name: "TSURU_TOKEN", value: "a1b2c3d4e5" })),
        // Violations of stack policies: same labels as payments, a second compactor, no default deny in their namespace.
        prometheusConfigMap("search", platformLabels("payments")),
        compactorStatefulSet("thanos-compactor-2"),
        // Preview: values unknown to the engine must be skipped, never reported as "can't run".
        edit(prometheusStatefulSet("growth"), (inputs) => (prometheusContainer(inputs).resources.limits.memory = unknownString)),
        edit(ecsPrometheusTask("prometheus-growth"), (inputs) => (inputs.containerDefinitions = unknownString)),
    ];

    let result: DriverResult;
    let harness: Finding[];
    before(async () => {
        result = runDriver(resources);
        harness = await evaluate(resources, { secretsVisible: false });
    });

    it("loads under the language host's runner and announces every policy with its level", () => {
        assert.strictEqual(result.info.name, "prometheus-paas");
        assert.deepStrictEqual(result.info.policies.map((p) => `${p.name} ${p.enforcementLevel}`), policies.map((p) => `${p.name} ${p.enforcementLevel}`));
        for (const policy of result.info.policies) assert.ok(policy.remediationSteps.length > 0, policy.name);
    });

    it("reports exactly what the harness reports, resource policies and stack policies alike", () => {
        const engine = [...result.analyze, ...result.analyzeStack].map(withoutDescription).map(key).sort();
        assert.deepStrictEqual(engine, harness.map(key).sort());
        for (const policy of ["prometheus-tmpfs-size-limit", "container-images-pinned", "no-plaintext-credentials-in-containers", "prometheus-external-labels-unique", "thanos-compactor-singleton", "instances-namespace-default-deny"]) {
            assert.ok(engine.some((line) => line.startsWith(`${policy} [mandatory]`)), `${policy} missing from:\n${engine.join("\n")}`);
        }
        assert.strictEqual(engine.length, 6, engine.join("\n"));
    });

    it("skips unknown values instead of turning a policy into a \"can't run during preview\" note", () => {
        const notes = [...result.analyze, ...result.analyzeStack].filter((d) => /can't run/.test(d.message));
        assert.deepStrictEqual(notes, []);
    });
});
