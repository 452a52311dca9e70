/**
 * Fargate task sizes: the program's table against Fargate's own (written here from AWS's task size table), and
 * every container mix the stacks can produce sized through taskSizeFor.
 */
import { strict as assert } from "assert";
import { ContainerDefinition, cpuUnits, fargateSizeProblem, fargateSizes, fargateTaskSize, taskDemand, taskSizeFor } from "../../components/aws/containers";
import type { EcsInstanceConfig, StackConfig } from "../../components/config/types";
import type { Plan } from "../../components/plans";
import { yaceContainers } from "../../components/exporters/yace";
import { configUpdateContainers, maxDiscoveredClusters, prometheusContainers, prometheusTaskDemand } from "../../components/prometheus/ecs-spec";
import { thanosTaskContainers, thanosTaskDemands } from "../../components/thanos/ecs-spec";
import { ecsConfig } from "../support/ecs-fixtures";
import { ecsInstance, readStackConfig, stackNames } from "../support/fixtures";

/** AWS Fargate: the memory values each CPU value allows (GiB), nothing else. */
function fargateAccepts(cpu: number, memoryMiB: number): boolean {
    const gib = memoryMiB / 1024;
    const within = (from: number, to: number, step: number) => gib >= from && gib <= to && Number.isInteger((gib - from) / step);
    switch (cpu) {
        case 256: return [0.5, 1, 2].includes(gib);
        case 512: return within(1, 4, 1);
        case 1024: return within(2, 8, 1);
        case 2048: return within(4, 16, 1);
        case 4096: return within(8, 30, 1);
        case 8192: return within(16, 60, 4);
        case 16384: return within(32, 120, 8);
        default: return false;
    }
}

const everyFargateSize = [256, 512, 1024, 2048, 4096, 8192, 16384].flatMap((cpu) =>
    Array.from({ length: 240 }, (_, index) => (index + 1) * 512).filter((memory) => fargateAccepts(cpu, memory)).map((memory) => ({ cpu, memory })));

function demand(containers: readonly ContainerDefinition[]) {
    return {
        cpu: containers.reduce((sum, container) => sum + (container.cpu ?? 0), 0),
        memory: containers.reduce((sum, container) => sum + (container.memory ?? 0), 0),
    };
}

/** The size is one Fargate offers, holds every container, and no smaller offered size would. */
function assertFargateFit(label: string, containers: readonly ContainerDefinition[]) {
    const size = taskSizeFor(containers);
    const cpu = Number(size.cpu);
    const memory = Number(size.memory);
    const needed = demand(containers);
    assert.ok(fargateAccepts(cpu, memory), `${label}: ${cpu} CPU units with ${memory} MiB is not a Fargate size`);
    assert.ok(cpu >= needed.cpu && memory >= needed.memory, `${label}: ${cpu}/${memory} does not hold ${needed.cpu}/${needed.memory}`);
    for (const container of containers) assert.ok((container.memory ?? 0) <= memory, `${label}: ${container.name} alone exceeds the task memory`);
    const smaller = everyFargateSize.find((candidate) => candidate.cpu >= needed.cpu && candidate.memory >= needed.memory
        && (candidate.cpu < cpu || (candidate.cpu === cpu && candidate.memory < memory)));
    assert.equal(smaller, undefined, `${label}: ${JSON.stringify(smaller)} would hold it too`);
}

describe("Fargate task sizes", () => {
    it("converts CPU quantities to CPU units (1024 per vCPU)", () => {
        assert.equal(cpuUnits("250m"), 256);
        assert.equal(cpuUnits("2"), 2048);
        assert.throws(() => cpuUnits("two"));
    });

    it("the program's table is exactly Fargate's", () => {
        const program = fargateSizes.flatMap((size) => size.memory.map((memory) => ({ cpu: size.cpu, memory })));
        assert.deepEqual(program, everyFargateSize);
    });

    it("never picks a size Fargate refuses, e.g. 256 CPU units with 1536 MiB", () => {
        assert.deepEqual(fargateTaskSize(256, 1536), { cpu: 256, memory: 2048 });
        assert.deepEqual(fargateTaskSize(300, 1536), { cpu: 512, memory: 2048 });
        assert.deepEqual(fargateTaskSize(4096, 31 * 1024), { cpu: 8192, memory: 32768 });
        assert.deepEqual(fargateTaskSize(8192, 61 * 1024), { cpu: 16384, memory: 65536 });
        assert.equal(fargateTaskSize(16385, 1024), undefined);
        assert.equal(fargateTaskSize(256, 120 * 1024 + 1), undefined);
    });

    it("sizes from the containers' own figures, and says which containers no size holds", () => {
        const container = (name: string, cpu: number, memory: number): ContainerDefinition =>
            ({ name, image: "i:1", essential: true, cpu, memory, logConfiguration: { logDriver: "awslogs", options: {} } });
        assert.deepEqual(taskSizeFor([container("a", 200, 1000), container("b", 100, 536)]), { cpu: "512", memory: "2048" });
        assert.throws(() => taskSizeFor([container("huge", 16384, 1024), container("side", 64, 64)]), /no Fargate task size holds containers huge, side \(16448 CPU units, 1088 MiB\)/);
    });
});

describe("every container mix the stacks can produce fits a Fargate size", () => {
    const location = { region: "us-east-1", logGroup: "/paas/x", configBucket: "bucket", configPrefix: "instances/x/" };
    const configs: [string, StackConfig][] = [...stackNames().map((stack): [string, StackConfig] => [stack, readStackConfig(stack)]), ["two-platform fixture", ecsConfig()]];

    /** An ECS instance of this plan scraping apps in `clusters` ECS clusters (one discovery container each). */
    function withClusters(base: EcsInstanceConfig, plan: Plan, clusters: number): EcsInstanceConfig {
        const app = base.apps[0];
        return { ...base, plan, apps: Array.from({ length: clusters }, (_, index) => ({ ...app, family: `app-${index}`, cluster: `cluster-${index}` })) };
    }

    for (const [name, config] of configs) {
        it(`${name}: Prometheus tasks of every plan with 0-${maxDiscoveredClusters} discovered clusters, Thanos, YACE, config update`, () => {
            const base = ecsInstance(ecsConfig());
            for (const plan of Object.values(config.plans)) {
                for (let clusters = 0; clusters <= maxDiscoveredClusters; clusters++) {
                    const containers = prometheusContainers({ ...location, instance: withClusters(base, plan, clusters), replicaName: "prometheus-x-0", webAuthSecret: { arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus-test-web-auth-AbCdEf", versionId: "00000000-0000-4000-8000-000000000001" } });
                    assertFargateFit(`plan ${plan.name}, ${clusters} clusters`, containers);
                }
            }
            const thanos = thanosTaskContainers({ thanos: config.thanos, objstoreConfig: "type: S3\n", queryEndpoints: ["dns+x:10901"], region: "us-east-1", logGroups: { store: "s", query: "q", queryTenants: "t", compactor: "c" } });
            for (const [component, containers] of Object.entries(thanos)) assertFargateFit(`thanos ${component}`, containers);
            assertFargateFit("config update", configUpdateContainers(location));
            if (config.yace) assertFargateFit("yace", yaceContainers({ yace: config.yace, configYml: "x", region: "us-east-1", logGroup: "g", configBucket: "b" }));
        });
    }
});

describe("the config's Fargate check sums exactly the containers the tasks are built with", () => {
    const location = { region: "us-east-1", logGroup: "/paas/x", configBucket: "bucket", configPrefix: "instances/x/" };
    const huge: Plan = { ...ecsInstance(ecsConfig()).plan, name: "huge", memoryMiB: 200 * 1024 };

    it("Prometheus replica task: same containers, CPU and memory for every plan and 0-6 discovered clusters", () => {
        const base = ecsInstance(ecsConfig());
        for (const plan of [...Object.values(ecsConfig().plans), huge]) {
            for (let clusters = 0; clusters <= maxDiscoveredClusters; clusters++) {
                const app = base.apps[0];
                const instance = { ...base, plan, apps: Array.from({ length: clusters }, (_, index) => ({ ...app, family: `app-${index}`, cluster: `cluster-${index}` })) };
                const built = taskDemand(prometheusContainers({ ...location, instance, replicaName: "prometheus-x-0", webAuthSecret: { arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus-test-web-auth-AbCdEf", versionId: "00000000-0000-4000-8000-000000000001" } }));
                assert.deepEqual(prometheusTaskDemand(instance), built, `plan ${plan.name}, ${clusters} clusters`);
            }
        }
    });

    it("Thanos store, query and compactor tasks: same containers, CPU and memory, down to a memory no Fargate size holds", () => {
        for (const memory of ["512Mi", "4Gi", "200Gi"]) {
            const thanos = { ...ecsConfig().thanos, store: { ...ecsConfig().thanos.store, memory }, compactor: { ...ecsConfig().thanos.compactor, memory } };
            const built = thanosTaskContainers({ thanos, objstoreConfig: "type: S3\n", queryEndpoints: [], region: "us-east-1", logGroups: { store: "s", query: "q", queryTenants: "t", compactor: "c" } });
            const demands = thanosTaskDemands(thanos);
            for (const component of ["store", "query", "compactor"] as const) assert.deepEqual(demands[component], taskDemand(built[component]), `${component} with ${memory}`);
        }
        assert.match(fargateSizeProblem(thanosTaskDemands({ ...ecsConfig().thanos, store: { ...ecsConfig().thanos.store, memory: "200Gi" } }).store) ?? "", /no Fargate task size holds containers prepare-data-dir, thanos-store \(272 CPU units, 204832 MiB\)/);
    });
});
