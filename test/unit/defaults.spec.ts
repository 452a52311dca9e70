/**
 * Kubernetes and ECS run the same processes with the same figures: the sidecar, store, query, compactor and
 * Prometheus containers of both platforms, compared field by field (they come from one defaults table).
 */
import { strict as assert } from "assert";
import { ContainerDefinition, cpuUnits } from "../../components/aws/containers";
import { prometheusContainers } from "../../components/prometheus/ecs-spec";
import { flushDeadlineSeconds } from "../../components/prometheus/flush";
import { prometheusStatefulSetSpec } from "../../components/prometheus/kubernetes-spec";
import { thanosTaskContainers } from "../../components/thanos/ecs-spec";
import { thanosCompactorSpec, thanosQuerySpec, thanosStoreSpec } from "../../components/thanos/kubernetes-spec";
import { parseMiB } from "../../components/units";
import { ecsConfig } from "../support/ecs-fixtures";

const config = ecsConfig({ thanos: { store: { memory: "3Gi" }, compactor: { memory: "6Gi" } } });
const kubernetesInstance = config.instances.find((instance) => instance.platform === "kubernetes")!;
const ecsInstance = config.instances.find((instance) => instance.platform === "ecs")!;

function podContainers(spec: any): any[] {
    return spec.template.spec.containers;
}

/** What a container runs with, in one vocabulary for both platforms. */
function fromKubernetes(container: any, pod: any) {
    const liveness = container.livenessProbe;
    return {
        cpuUnits: cpuUnits(container.resources.requests.cpu),
        memoryLimitMiB: parseMiB(container.resources.limits.memory),
        memoryRequestMiB: parseMiB(container.resources.requests.memory),
        ports: container.ports.map((port: any) => port.containerPort).sort(),
        health: liveness.httpGet ? `http://localhost:${liveness.httpGet.port}${liveness.httpGet.path}` : `tcp://localhost:${liveness.tcpSocket.port}`,
        healthEverySeconds: liveness.periodSeconds,
        healthRetries: liveness.failureThreshold,
        startSeconds: container.startupProbe.failureThreshold * container.startupProbe.periodSeconds,
        stopSeconds: pod.terminationGracePeriodSeconds,
    };
}

function fromEcs(container: ContainerDefinition) {
    return {
        cpuUnits: container.cpu,
        memoryLimitMiB: container.memory,
        memoryRequestMiB: container.memoryReservation ?? container.memory,
        ports: container.portMappings!.map((port) => port.containerPort).sort(),
        health: container.healthCheck!.command.at(-1),
        healthEverySeconds: container.healthCheck!.interval,
        healthRetries: container.healthCheck!.retries,
        startSeconds: container.healthCheck!.startPeriod,
        stopSeconds: container.stopTimeout,
    };
}

function byName<T extends { name: string }>(containers: T[], name: string): T {
    const found = containers.find((container) => container.name === name);
    assert.ok(found, `no container ${name}`);
    return found;
}

describe("one defaults table: the same process on Kubernetes and ECS", () => {
    const statefulSet = prometheusStatefulSetSpec(kubernetesInstance, "prometheus-objstore") as any;
    const replica = prometheusContainers({ instance: ecsInstance, replicaName: "prometheus-billing-0", region: "us-east-1", logGroup: "g", configBucket: "b", configPrefix: "p/", webAuthSecret: { arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus-test-web-auth-AbCdEf", versionId: "00000000-0000-4000-8000-000000000001" } });
    const ecsThanos = thanosTaskContainers({ thanos: config.thanos, objstoreConfig: "type: S3\n", queryEndpoints: [], region: "us-east-1", logGroups: { store: "s", query: "q", queryTenants: "t", compactor: "c" } });

    it("the Thanos sidecar", () => {
        const kubernetes = fromKubernetes(byName(podContainers(statefulSet), "thanos-sidecar"), statefulSet.template.spec);
        // The pod's grace period covers Prometheus' (longer) stop; compare the sidecar's own on ECS without it.
        const { stopSeconds: _k, ...sidecarOnKubernetes } = kubernetes;
        const { stopSeconds: _e, ...sidecarOnEcs } = fromEcs(byName(replica, "thanos-sidecar"));
        assert.deepEqual(sidecarOnKubernetes, sidecarOnEcs);
    });

    it("store, query and compactor, with the stack's memory for store and compactor", () => {
        const kubernetes = {
            store: thanosStoreSpec(config.thanos, "thanos", "thanos-objstore"),
            query: thanosQuerySpec(config.thanos, "thanos", [], "platform"),
            compactor: thanosCompactorSpec(config.thanos, "thanos", "thanos-objstore"),
        } as Record<string, any>;
        for (const component of ["store", "query", "compactor"] as const) {
            const spec = kubernetes[component];
            const onKubernetes = fromKubernetes(podContainers(spec)[0], spec.template.spec);
            assert.deepEqual(onKubernetes, fromEcs(byName(ecsThanos[component], `thanos-${component}`)), component);
        }
        assert.equal(fromEcs(byName(ecsThanos.store, "thanos-store")).memoryLimitMiB, 3072);
        assert.equal(fromEcs(byName(ecsThanos.compactor, "thanos-compactor")).memoryLimitMiB, 6144);
    });

    it("Prometheus: the plan's CPU and process memory, probes and stop time; only Kubernetes adds the tmpfs", () => {
        const plan = { ...kubernetesInstance.plan };
        const onKubernetes = fromKubernetes(byName(podContainers(statefulSet), "prometheus"), statefulSet.template.spec);
        const onEcs = fromEcs(byName(replica, "prometheus"));
        assert.equal(onKubernetes.memoryLimitMiB, plan.memoryMiB + plan.tmpfsMiB);
        assert.equal(onEcs.memoryLimitMiB, ecsInstance.plan.memoryMiB);
        // The pod's grace period is the shutdown flush, then Prometheus' own stop (ECS has no flush yet).
        const { memoryLimitMiB: _k, memoryRequestMiB: _kr, cpuUnits: kubernetesCpu, health: kubernetesHealth, stopSeconds: gracePeriod, ...kubernetesRest } = onKubernetes;
        const { memoryLimitMiB: _e, memoryRequestMiB: _er, cpuUnits: ecsCpu, health: _ecsHealth, stopSeconds: ecsStop, ...ecsRest } = onEcs;
        assert.equal(gracePeriod, flushDeadlineSeconds(plan) + ecsStop!);
        assert.deepEqual(kubernetesRest, ecsRest);
        // Every path asks for credentials: Kubernetes' liveness only checks the port (a restart would lose the tmpfs
        // head), ECS' health check authenticates with promtool (its TSDB is on task storage either way).
        assert.equal(kubernetesHealth, "tcp://localhost:9090");
        assert.deepEqual(byName(replica, "prometheus").healthCheck!.command.slice(0, 4), ["CMD", "promtool", "check", "healthy"]);
        assert.equal(kubernetesCpu, cpuUnits(kubernetesInstance.plan.cpu));
        assert.equal(ecsCpu, cpuUnits(ecsInstance.plan.cpu));
    });
});
