/**
 * Every stack of the project, run under mocks, passes the policy pack; the pack's checks demonstrably reach the
 * resources each stack registers; deliberately bad stacks trip the policies they should.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { policies } from "../../policy/policies";
import { stackNames } from "../support/fixtures";
import { installMocks } from "../support/mocks";
import { evaluate, Finding, formatFindings, HarnessResource, mandatory, recordRegistrations } from "../support/policy-harness";
import { runStack, runStackConfig } from "../support/stack";
import { edit } from "./fixtures";

const fixturesDir = path.resolve(__dirname, "..", "fixtures");

async function recordStack(stack: string): Promise<HarnessResource[]> {
    return (await recordRegistrations(() => runStack(stack))).resources;
}

function violated(findings: readonly Finding[]): string[] {
    return [...new Set(findings.map((finding) => finding.policy))].sort();
}

/** The project keys of a stack file outside the project root. */
function readFixtureStack(file: string): Record<string, unknown> {
    const document = yaml.load(fs.readFileSync(path.join(fixturesDir, file), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(document.config).map(([key, value]) => [key.replace(/^prometheus-paas:/, ""), value]));
}

const isPrometheusStatefulSet = (resource: HarnessResource) =>
    resource.type === "kubernetes:apps/v1:StatefulSet" && resource.inputs.spec?.template?.spec?.containers?.some((c: any) => c.args?.some((a: string) => a.startsWith("--storage.tsdb.path")));
const isCompactorStatefulSet = (resource: HarnessResource) =>
    resource.type === "kubernetes:apps/v1:StatefulSet" && resource.inputs.spec?.template?.spec?.containers?.some((c: any) => c.args?.[0] === "compact");

describe("policy pack over every stack of the project", () => {
    it("finds the project's stacks", () => {
        for (const stack of ["dev", "prod"]) assert.ok(stackNames().includes(stack), stack);
    });

    for (const stack of stackNames()) {
        describe(`stack ${stack}`, () => {
            let resources: HarnessResource[];
            before(async () => {
                resources = await recordStack(stack);
            });

            it("has no mandatory violation", async () => {
                const findings = await evaluate(resources);
                assert.deepStrictEqual(mandatory(findings), [], `mandatory violations in stack ${stack}:\n${formatFindings(mandatory(findings))}`);
            });

            it("is checked for real: the Prometheus and Thanos checks trip on its own resources once broken", async () => {
                const prometheus = resources.filter(isPrometheusStatefulSet);
                assert.ok(prometheus.length > 0, "no Prometheus StatefulSet recorded");
                const broken = resources.map((resource) => {
                    if (isPrometheusStatefulSet(resource)) {
                        return edit(resource, (inputs) => {
                            for (const volume of inputs.spec.template.spec.volumes) if (volume.emptyDir?.medium === "Memory") delete volume.emptyDir.sizeLimit;
                        });
                    }
                    if (isCompactorStatefulSet(resource)) return edit(resource, (inputs) => (inputs.spec.replicas = 2));
                    return resource;
                });
                const findings = await evaluate(broken);
                const bySizeLimit = findings.filter((f) => f.policy === "prometheus-tmpfs-size-limit");
                assert.strictEqual(bySizeLimit.length, prometheus.length, formatFindings(findings));
                assert.strictEqual(findings.filter((f) => f.policy === "thanos-compactor-singleton").length, 1, formatFindings(findings));
            });

            it("is checked for real: every rendered prometheus.yml is read and compared", async () => {
                const configMaps = resources.filter((r) => r.type === "kubernetes:core/v1:ConfigMap" && Object.keys(r.inputs.data ?? {}).some((key) => /prometheus\.ya?ml(\.tmpl)?$/.test(key)));
                assert.ok(configMaps.length > 0, "no rendered prometheus.yml recorded");
                const [first, ...rest] = configMaps;
                const sameLabels = [first, ...rest.map((configMap) => edit(configMap, (inputs) => {
                    const key = Object.keys(inputs.data).find((k) => /prometheus\.ya?ml/.test(k))!;
                    inputs.data[key] = Object.values(first.inputs.data)[0];
                }))];
                const findings = await evaluate(resources.map((r) => sameLabels.find((s) => s.urn === r.urn) ?? r));
                const duplicates = findings.filter((f) => f.policy === "prometheus-external-labels-unique");
                assert.strictEqual(duplicates.length, configMaps.length > 1 ? 1 : 0, formatFindings(findings));
            });

            it("is checked for real: the bucket checks follow its companions", async () => {
                const buckets = resources.filter((r) => r.type === "aws:s3/bucket:Bucket");
                const withoutCompanions = resources.filter((r) => !/aws:s3\/bucket(ServerSideEncryptionConfiguration|PublicAccessBlock|Policy):/.test(r.type));
                const findings = await evaluate(withoutCompanions, { policies: policies.filter((p) => p.name.startsWith("s3-bucket-")) });
                for (const name of ["s3-bucket-encrypted", "s3-bucket-public-access-blocked", "s3-bucket-tls-only"]) {
                    assert.strictEqual(findings.filter((f) => f.policy === name).length, buckets.length, `${name}\n${formatFindings(findings)}`);
                }
            });
        });
    }
});

describe("policy pack over deliberately bad stacks", () => {
    it("a stack config that passes validation but leaks credentials into ConfigMaps trips no-credentials-in-configmaps", async () => {
        const { resources } = await recordRegistrations(() => runStackConfig(readFixtureStack("Pulumi.bad-config.yaml"), "bad-config"));
        const findings = mandatory(await evaluate(resources));
        assert.deepStrictEqual(violated(findings), ["no-credentials-in-configmaps"], formatFindings(findings));
        const messages = findings.map((f) => f.message);
        assert.ok(messages.some((m) => /ConfigMap 'prometheus-payments-config' data key 'prometheus\.yml\.tmpl' contains key 'api_token'/.test(m)), messages.join("\n"));
        assert.ok(messages.some((m) => /ConfigMap 'prometheus-payments-rules' data key 'tenant-rules\.yml' contains a URL with an embedded password/.test(m)), messages.join("\n"));
    });

    it("a platform built from a config that skipped validation (as a broker bug could) trips the tmpfs sizing policies", async () => {
        const { parseStackConfig } = require("../../components/config/stack") as typeof import("../../components/config/stack");
        const { buildPlatform } = require("../../components/platform") as typeof import("../../components/platform");
        const valid = parseStackConfig(readFixtureStack("Pulumi.bad-config.yaml"));
        const [instance] = valid.instances;
        const unvalidated = { ...valid, instances: [{ ...instance, externalLabels: {}, rules: [], plan: { ...instance.plan, memoryMiB: 0, retentionSizeMiB: instance.plan.tmpfsMiB } }] };
        const { resources } = await recordRegistrations(async () => {
            const recorder = await installMocks({}, [], "unvalidated");
            buildPlatform(unvalidated);
            await recorder.settle();
        });
        const findings = mandatory(await evaluate(resources));
        assert.deepStrictEqual(violated(findings), ["prometheus-memory-covers-tmpfs", "prometheus-retention-below-tmpfs"], formatFindings(findings));
        assert.match(findings.find((f) => f.policy === "prometheus-memory-covers-tmpfs")!.message, /container 'prometheus' has a memory limit of 512Mi, not above its 512Mi tmpfs TSDB.*prometheus-paas:plans\.<plan>\.memory \(the plan of instance 'payments'/);
        assert.match(findings.find((f) => f.policy === "prometheus-retention-below-tmpfs")!.message, /--storage\.tsdb\.retention\.size=512MB, not below its 512Mi tmpfs/);
    });

    it("a hand-written stack that gets everything wrong trips every policy of the pack", async () => {
        const program = path.join(fixturesDir, "bad-stack", "index.ts");
        const { resources } = await recordRegistrations(async () => {
            const recorder = await installMocks({}, [], "bad");
            (require(program) as { badStack(): void }).badStack();
            await recorder.settle();
        });
        const findings = await evaluate(resources);
        assert.deepStrictEqual(violated(findings), policies.map((p) => p.name).sort(), formatFindings(findings));
        const advisory = findings.filter((f) => f.enforcementLevel === "advisory").map((f) => f.policy);
        assert.deepStrictEqual([...new Set(advisory)].sort(), ["log-group-retention", "s3-bucket-lifecycle"]);
    });
});
