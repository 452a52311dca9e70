import { strict as assert } from "assert";
import { ConfigError } from "../../components/config/errors";
import { minimalRawConfig, readStackConfig, readStackFile, stackNames } from "../support/fixtures";
import { isSecret, resolve } from "../support/mocks";
import { mockStack, runProgram, runStack, runStackConfig, StackRun } from "../support/stack";

const STATEFULSET = "kubernetes:apps/v1:StatefulSet";

function statefulSetNames(run: StackRun): string[] {
    return run.recorder.ofType(STATEFULSET).map((resource) => resource.inputs.metadata.name).sort();
}

describe("stacks under mocks", () => {
    it("finds the dev and prod stack files", () => {
        for (const stack of ["dev", "prod"]) assert.ok(stackNames().includes(stack), stack);
    });

    for (const stack of stackNames()) {
        it(`${stack}: registers one Prometheus per Kubernetes instance plus Thanos store, compactor, and the platform's and the tenants' Queries`, async () => {
            const config = readStackConfig(stack);
            const run = await runStack(stack);
            const kubernetesInstances = config.instances.filter((instance) => instance.platform === "kubernetes");
            const expected = [...kubernetesInstances.map((instance) => `prometheus-${instance.name}`), "thanos-compactor", "thanos-store"].sort();
            assert.deepEqual(statefulSetNames(run), expected);
            assert.deepEqual(run.recorder.ofType("kubernetes:apps/v1:Deployment").map((deployment) => deployment.inputs.metadata.name).sort(), ["thanos-query", "thanos-query-tenants"]);
            const urls = await resolve(run.outputs.prometheusUrls as Record<string, string>);
            assert.deepEqual(Object.keys(urls).sort(), kubernetesInstances.map((instance) => instance.name).sort());
            assert.match(await resolve(run.outputs.thanosQueryUrl as string), /^http:\/\/thanos-query\.[a-z0-9-]+\.svc:9090$/);
        });
    }

    it("dev and prod register the Tsuru service with a generated password that stays secret", async () => {
        for (const stack of ["dev", "prod"]) {
            const run = await runStack(stack);
            const [service] = run.recorder.ofType("pulumi-nodejs:dynamic/paas-tsuru:TsuruService").filter((resource) => resource.name === "tsuru-service");
            assert.ok(service, `${stack}: no TsuruService`);
            assert.ok(isSecret(service.inputs.password), `${stack}: password must be a secret`);
            // The service's password, and one per instance (these stacks set no instancePasswords).
            const generated = run.recorder.ofType("random:index/randomPassword:RandomPassword").map((resource) => resource.name).sort();
            assert.deepEqual(generated, ["tsuru-service-password", ...readStackConfig(stack).instances.map((instance) => `prometheus-${instance.name}-password`)].sort());
        }
    });

    it("a stack with an existing endpoint registers no AWS resource at all", async () => {
        const run = await runStackConfig(minimalRawConfig());
        assert.deepEqual(run.recorder.resources.filter((resource) => resource.type.startsWith("aws:") || resource.type.startsWith("pulumi:providers:aws")), []);
    });

    it("bad configuration fails before any resource is registered", async () => {
        const recorder = await mockStack({ ...readStackFile("dev"), thanos: { compactor: { replicas: 2 } } });
        await assert.rejects(runProgram(recorder), (error: unknown) => error instanceof ConfigError && /thanos\.compactor\.replicas/.test(error.message));
        await recorder.settle();
        assert.deepEqual(recorder.resources, []);
    });
});
