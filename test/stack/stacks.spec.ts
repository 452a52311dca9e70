import { strict as assert } from "assert";
import { ConfigError } from "../../components/config";
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
        it(`${stack}: registers one Prometheus per Kubernetes instance plus Thanos store, query and compactor`, async () => {
            const config = readStackConfig(stack);
            const run = await runStack(stack);
            const kubernetesInstances = config.instances.filter((instance) => instance.platform === "kubernetes");
            const expected = [...kubernetesInstances.map((instance) => `prometheus-${instance.name}`), "thanos-compactor", "thanos-store"].sort();
            assert.deepEqual(statefulSetNames(run), expected);
            assert.equal(run.recorder.ofType("kubernetes:apps/v1:Deployment").length, 1);
            const urls = await resolve(run.outputs.prometheusUrls as Record<string, string>);
            assert.deepEqual(Object.keys(urls).sort(), kubernetesInstances.map((instance) => instance.name).sort());
            assert.match(await resolve(run.outputs.thanosQueryUrl as string), /^http:\/\/thanos-query\.[a-z0-9-]+\.svc:9090$/);
        });
    }

    it("dev: creates an encrypted S3 bucket and Grafana datasources for Thanos and each instance", async () => {
        const run = await runStack("dev");
        assert.equal(run.recorder.ofType("aws:s3/bucket:Bucket").length, 1);
        assert.equal(run.recorder.ofType("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").length, 1);
        const datasources = run.recorder.ofType("kubernetes:core/v1:ConfigMap").filter((configMap) => configMap.inputs.metadata.labels?.grafana_datasource === "1");
        assert.deepEqual(datasources.map((configMap) => configMap.inputs.metadata.name).sort(),
            ["grafana-datasource-prometheus-payments", "grafana-datasource-prometheus-search", "grafana-datasource-thanos"]);
        assert.match(await resolve(run.outputs.bucketName as string), /^thanos-/);
    });

    it("prod: runs every tenant as an HA pair with a PodDisruptionBudget, and a KMS-encrypted named bucket", async () => {
        const run = await runStack("prod");
        const prometheus = run.recorder.ofType(STATEFULSET).filter((resource) => resource.inputs.metadata.name.startsWith("prometheus-"));
        assert.equal(prometheus.length, 4);
        for (const statefulSet of prometheus) assert.equal(statefulSet.inputs.spec.replicas, 2, statefulSet.name);
        assert.equal(run.recorder.ofType("kubernetes:policy/v1:PodDisruptionBudget").length, 4);
        const bucket = run.recorder.one("aws:s3/bucket:Bucket", "thanos-bucket");
        assert.equal(bucket.inputs.bucket, "acme-tsuru-prod-thanos");
        const encryption = run.recorder.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "thanos-bucket-encryption");
        assert.equal(encryption.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms");
        const query = run.recorder.ofType("kubernetes:apps/v1:Deployment")[0];
        assert.equal(query.inputs.spec.replicas, 2);
        assert.equal(query.inputs.spec.template.spec.containers[0].args.filter((arg: string) => arg.startsWith("--endpoint=")).length, 5);
    });

    it("dev and prod register the Tsuru service with a generated secret password and the plan catalog as its doc", async () => {
        for (const stack of ["dev", "prod"]) {
            const run = await runStack(stack);
            const [service] = run.recorder.ofType("pulumi-nodejs:dynamic/paas-tsuru:TsuruService").filter((resource) => resource.name === "tsuru-service");
            assert.ok(service, `${stack}: no TsuruService`);
            assert.equal(service.inputs.serviceId, "prometheus");
            assert.ok(isSecret(service.inputs.password), `${stack}: password must be a secret`);
            assert.match(service.inputs.documentation, /small: .*tmpfs 512MB/);
            assert.equal(run.recorder.ofType("random:index/randomPassword:RandomPassword").length, 1);
            assert.equal(run.recorder.one("random:index/randomPassword:RandomPassword", "tsuru-service-password").inputs.special, false);
        }
        const prod = await runStack("prod");
        const service = prod.recorder.ofType("pulumi-nodejs:dynamic/paas-tsuru:TsuruService").find((resource) => resource.name === "tsuru-service")!;
        assert.equal(service.inputs.multiCluster, true);
        assert.deepEqual(Object.keys(service.inputs.endpoints).sort(), ["cluster-b", "production"]);
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
