import { strict as assert } from "assert";
import { parseStackConfig } from "../../components/config/stack";
import { assertProblem } from "../support/config-problems";
import { ecsConfig, ecsRawConfig } from "../support/ecs-fixtures";
import { minimalRawConfig } from "../support/fixtures";
import { yaceServices } from "../support/yace-services";

function withEcs(patch: Record<string, unknown>): Record<string, unknown> {
    const raw = ecsRawConfig();
    return { ...raw, ecs: { ...(raw.ecs as Record<string, unknown>), ...patch } };
}

function withYace(patch: Record<string, unknown>): Record<string, unknown> {
    const raw = ecsRawConfig();
    return { ...raw, yace: { ...(raw.yace as Record<string, unknown>), ...patch } };
}

function withEcsInstance(patch: Record<string, unknown>): Record<string, unknown> {
    const raw = ecsRawConfig();
    const instances = raw.instances as Record<string, unknown>[];
    return { ...raw, instances: [instances[0], { ...instances[1], ...patch }] };
}

describe("stack config: ecs and yace", () => {
    it("resolves the ECS defaults derived from the environment", () => {
        const config = ecsConfig();
        assert.deepEqual(config.ecs!.cluster, { name: "prometheus-test", existing: false });
        assert.equal(config.ecs!.serviceDiscoveryNamespace, "prometheus-test.internal");
        assert.equal(config.ecs!.logRetentionDays, 30);
        assert.deepEqual(config.ecs!.capacity, { statelessProvider: "FARGATE", prometheusStorageGiB: 30, storeStorageGiB: 30, compactorStorageGiB: 150 });
        assert.deepEqual(config.yace!.regions, ["us-east-1"]);
        assert.equal(config.instances[1].platform, "ecs");
    });

    it("treats the {} default of Pulumi.yaml as 'no ECS, no YACE'", () => {
        const config = parseStackConfig({ ...minimalRawConfig(), ecs: {}, yace: {} });
        assert.equal(config.ecs, undefined);
        assert.equal(config.yace, undefined);
    });

    it("accepts a looked-up VPC and subnets and an existing cluster", () => {
        const config = ecsConfig({
            ecs: { cluster: { name: "shared", existing: true }, vpc: { tags: { Name: "prod" } }, subnets: { tags: { tier: "private" }, availabilityZones: ["us-east-1a", "us-east-1b"] }, queryAllowedCidrs: ["10.0.0.0/8"] },
        });
        assert.deepEqual(config.ecs!.vpc, { tags: { Name: "prod" } });
        assert.deepEqual(config.ecs!.cluster, { name: "shared", existing: true });
    });

    describe("rejects bad input with the offending key and what is allowed", () => {
        it("an ECS instance without an ecs section", () => {
            const { ecs: _, yace: __, ...raw } = ecsRawConfig();
            assertProblem(raw, "prometheus-paas:ecs: is required because instance 'billing' has platform ecs");
        });

        it("an unknown platform", () => {
            assertProblem(withEcsInstance({ platform: "nomad" }), "prometheus-paas:instances[1].platform: allowed: 'kubernetes', 'ecs' (got 'nomad')");
        });

        it("an unknown key in ecs", () => {
            assertProblem(withEcs({ clusterName: "x" }), "prometheus-paas:ecs: unknown key(s) 'clusterName'", "allowed keys: cluster, vpc, subnets");
        });

        it("both a VPC id and VPC tags", () => {
            assertProblem(withEcs({ vpc: { id: "vpc-0123456789abcdef0", tags: { Name: "x" } } }), "prometheus-paas:ecs.vpc", "exactly one of ecs.vpc.id or ecs.vpc.tags");
        });

        it("neither subnet ids nor tags", () => {
            assertProblem(withEcs({ subnets: {} }), "prometheus-paas:ecs.subnets", "exactly one of ecs.subnets.ids or ecs.subnets.tags");
        });

        it("subnets looked up by tags without the zones to look in", () => {
            assertProblem(withEcs({ subnets: { tags: { tier: "private" } } }), "prometheus-paas:ecs.subnets.availabilityZones", "need the zones to look in", "one mount target per zone");
        });

        it("availability zones beside subnet ids, in another region, or only one", () => {
            assertProblem(withEcs({ subnets: { ids: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"], availabilityZones: ["us-east-1a", "us-east-1b"] } }),
                "prometheus-paas:ecs.subnets.availabilityZones", "only with ecs.subnets.tags");
            assertProblem(withEcs({ subnets: { tags: { tier: "private" }, availabilityZones: ["us-east-1a", "eu-west-1b"] } }),
                "prometheus-paas:ecs.subnets.availabilityZones[1]: eu-west-1b is not a zone of the stack's region us-east-1");
            assertProblem(withEcs({ subnets: { tags: { tier: "private" }, availabilityZones: ["us-east-1a"] } }), "prometheus-paas:ecs.subnets.availabilityZones", "at least two availability zones");
        });

        it("a malformed VPC id", () => {
            assertProblem(withEcs({ vpc: { id: "vpc-xyz" } }), "prometheus-paas:ecs.vpc.id", "vpc-0123456789abcdef0");
        });

        it("a single subnet (the internal load balancer needs two zones)", () => {
            assertProblem(withEcs({ subnets: { ids: ["subnet-0aaaaaaaaaaaaaaa1"] } }), "prometheus-paas:ecs.subnets.ids", "at least two availability zones");
        });

        it("a duplicate subnet", () => {
            assertProblem(withEcs({ subnets: { ids: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa1"] } }), "ecs.subnets.ids", "unique");
        });

        it("an existing cluster without a name", () => {
            assertProblem(withEcs({ cluster: { existing: true } }), "prometheus-paas:ecs.cluster.name", "looked up by name");
        });

        it("no CIDR allowed to reach query", () => {
            assertProblem(withEcs({ queryAllowedCidrs: [] }), "prometheus-paas:ecs.queryAllowedCidrs", "Grafana's VPC over peering");
        });

        it("a query CIDR open to the internet", () => {
            assertProblem(withEcs({ queryAllowedCidrs: ["0.0.0.0/0"] }), "prometheus-paas:ecs.queryAllowedCidrs[0]", "never 0.0.0.0/0");
        });

        it("a malformed CIDR", () => {
            assertProblem(withEcs({ queryAllowedCidrs: ["10.0.300.0/24"] }), "prometheus-paas:ecs.queryAllowedCidrs[0]", "IPv4 CIDR");
        });

        it("a log retention CloudWatch does not offer", () => {
            assertProblem(withEcs({ logRetentionDays: 10 }), "prometheus-paas:ecs.logRetentionDays", "one of CloudWatch's values: 1, 3, 5, 7, 14, 30");
        });

        it("Fargate storage out of range", () => {
            assertProblem(withEcs({ capacity: { prometheusStorageGiB: 500 } }), "prometheus-paas:ecs.capacity.prometheusStorageGiB", "21-200 GiB");
        });

        it("an unknown capacity provider", () => {
            assertProblem(withEcs({ capacity: { statelessProvider: "EC2" } }), "prometheus-paas:ecs.capacity.statelessProvider: allowed: 'FARGATE', 'FARGATE_SPOT' (got 'EC2')");
        });

        it("an ECS instance discovering more clusters than a task has containers for", () => {
            const apps = Array.from({ length: 5 }, (_, index) => ({ family: `app-${index}`, cluster: `cluster-${index}` }));
            assertProblem(withEcsInstance({ apps }), "prometheus-paas:instances[1]: on ECS Fargate the Prometheus task of 'billing'", "discovers 5 ECS clusters", "allowed: at most 4 clusters per instance");
        });

        it("a plan no Fargate task size holds", () => {
            const huge = { description: "huge", cpu: "16", memory: "100Gi", tmpfs: "8Gi", retentionTime: "24h", retentionSize: "6Gi", scrapeInterval: "30s", sampleLimit: 1, labelLimit: 1, targetLimit: 1 };
            assertProblem({ ...withEcsInstance({ plan: "huge" }), plans: { huge } }, "prometheus-paas:instances[1]: on ECS Fargate the Prometheus task of 'billing' (plan 'huge')", "no Fargate task size holds containers", "the largest is 16384 CPU units with 122880 MiB");
        });

        it("Thanos store memory no Fargate task size holds, on a stack with ECS", () => {
            assertProblem({ ...ecsRawConfig(), thanos: { store: { memory: "200Gi" } } }, "prometheus-paas:thanos.store.memory: the Thanos store task on ECS Fargate", "no Fargate task size holds");
            assert.doesNotThrow(() => parseStackConfig({ ...minimalRawConfig(), thanos: { store: { memory: "200Gi" } } }), "Kubernetes alone has no Fargate limit");
        });

        it("task storage too small for the plan's retention", () => {
            const raw = withEcs({ capacity: { prometheusStorageGiB: 21 } });
            assertProblem({ ...raw, plans: { medium: { tmpfs: "40Gi", retentionSize: "20Gi" } } },
                "prometheus-paas:ecs.capacity.prometheusStorageGiB", "plan 'medium' of instance 'billing'", "at most 75% of the task storage");
        });

        it("an existing bucket outside AWS S3", () => {
            assertProblem({ ...ecsRawConfig(), bucket: { type: "existing", bucket: "thanos", endpoint: "minio.storage:9000" } },
                "prometheus-paas:bucket.endpoint", "IAM task roles", "s3.us-east-1.amazonaws.com");
        });

        it("static bucket keys with ECS", () => {
            assertProblem({ ...ecsRawConfig(), bucketAccessKey: "AKIA", bucketSecretKey: "s" }, "prometheus-paas:bucketAccessKey", "task role");
        });

        it("an ECS app given with the Kubernetes fields (name, namespace)", () => {
            assertProblem(withEcsInstance({ apps: [{ name: "billing-api", namespace: "tsuru-ecs" }] }), "prometheus-paas:instances[1].apps[0]: unknown key(s) 'name', 'namespace'", "allowed keys: family, cluster, containers, path, scheme, basicAuth");
        });

        it("an ECS family bound twice to one instance", () => {
            assertProblem(withEcsInstance({ apps: [{ family: "a", cluster: "c1" }, { family: "a", cluster: "c2" }] }), "prometheus-paas:instances[1].apps[1].family: app 'a' is bound twice to instance 'billing'");
        });

        it("basicAuth on a Kubernetes instance", () => {
            const raw = ecsRawConfig();
            const [kubernetes, ecs] = raw.instances as Record<string, any>[];
            const app = { ...kubernetes.apps[0], basicAuth: { username: "u", passwordSecretArn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:x-AbCdEf" } };
            assertProblem({ ...raw, instances: [{ ...kubernetes, apps: [app] }, ecs] }, "prometheus-paas:instances[0].apps[0]: unknown key(s) 'basicAuth'", "allowed keys: name, namespace, port, path, scheme, processes");
        });

        it("a basicAuth password that is not a Secrets Manager ARN", () => {
            assertProblem(withEcsInstance({ apps: [{ family: "a", cluster: "c", basicAuth: { username: "u", passwordSecretArn: "arn:aws:ssm:us-east-1:111122223333:parameter/x" } }] }),
                "instances[1].apps[0].basicAuth.passwordSecretArn", "Secrets Manager secret ARN");
        });

        it("yace without an ecs section", () => {
            const { ecs: _, ...raw } = ecsRawConfig();
            const instances = (raw.instances as unknown[]).slice(0, 1);
            assertProblem({ ...raw, instances }, "prometheus-paas:yace: YACE runs on ECS");
        });

        it("yace scraped by an instance that is not on ECS", () => {
            assertProblem(withYace({ scrapedBy: ["payments"] }), "prometheus-paas:yace.scrapedBy[0]", "'payments' is not an instance with platform ecs", "allowed: billing");
        });

        it("a YACE alias instead of the CloudWatch namespace", () => {
            assertProblem(withYace({ jobs: [{ namespace: "ec2", metrics: [{ name: "CPUUtilization", statistics: ["Average"] }] }] }),
                "prometheus-paas:yace.jobs[0].namespace", "use the CloudWatch namespace (e.g. AWS/EC2, not the alias ec2)");
        });

        it("each YACE namespace is accepted and its alias refused (YACE's own service list)", () => {
            for (const { namespace, alias } of yaceServices) {
                const job = (type: string) => ({ jobs: [{ namespace: type, metrics: [{ name: "M", statistics: ["Sum"] }] }] });
                assert.doesNotThrow(() => parseStackConfig(withYace(job(namespace))), namespace);
                assertProblem(withYace(job(alias)), "prometheus-paas:yace.jobs[0].namespace", `'${alias}' is not a namespace YACE discovers`);
            }
        });

        it("a statistic CloudWatch does not compute", () => {
            assertProblem(withYace({ jobs: [{ namespace: "AWS/EC2", metrics: [{ name: "CPUUtilization", statistics: ["Median"] }] }] }),
                "prometheus-paas:yace.jobs[0].metrics[0].statistics[0]", "Sum, Average, Maximum, Minimum, SampleCount or a percentile");
        });

        it("a metric length shorter than its period", () => {
            assertProblem(withYace({ jobs: [{ namespace: "AWS/EC2", period: 600, metrics: [{ name: "CPUUtilization", statistics: ["Average"], length: 300 }] }] }),
                "prometheus-paas:yace.jobs[0].metrics[0].length", "300s is shorter than the period 600s", "length >= period");
        });

        it("a job without metrics", () => {
            assertProblem(withYace({ jobs: [{ namespace: "AWS/EC2", metrics: [] }] }), "prometheus-paas:yace.jobs[0].metrics", "at least one metric");
        });

        it("an invalid searchTags regular expression", () => {
            assertProblem(withYace({ jobs: [{ namespace: "AWS/EC2", searchTags: { team: "(" }, metrics: [{ name: "CPUUtilization", statistics: ["Average"] }] }] }),
                "prometheus-paas:yace.jobs[0].searchTags.team", "valid regular expressions");
        });

        it("an unknown key in a YACE metric", () => {
            assertProblem(withYace({ jobs: [{ namespace: "AWS/EC2", metrics: [{ name: "CPUUtilization", statistics: ["Average"], stat: "x" }] }] }),
                "prometheus-paas:yace.jobs[0].metrics[0]: unknown key(s) 'stat'");
        });
    });
});
