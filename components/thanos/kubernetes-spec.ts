/**
 * Pure builders of Thanos store, query and compactor on Kubernetes: names, labels and workload specs, from the
 * shared defaults table. No Pulumi resources: components/thanos/kubernetes.ts wires them.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ThanosConfig } from "../config/types";
import { image } from "../images";
import { containerProbes, containerResources, containerSecurityContext, podSecurityContext, spreadOverNodes, workloadLabels } from "../kubernetes/workload";
import { kubernetesStoreApiEndpoint } from "../prometheus/kubernetes-spec";
import type { ProcessDefaults } from "../process";
import { queryHttpPort, thanosProcesses } from "./defaults";
import { compactorArgs, queryArgs, QueryAudience, storeArgs } from "./render";

const objstoreDir = "/etc/thanos";
const objstoreFile = `${objstoreDir}/objstore.yml`;
const dataDir = "/var/thanos";
const dataVolume = "data";

export const thanosKubernetesNames = {
    serviceAccount: "thanos",
    store: "thanos-store",
    query: "thanos-query",
    queryTenants: "thanos-query-tenants",
    compactor: "thanos-compactor",
} as const;

export function thanosLabels(component: "thanos" | "objstore" | "store" | "query" | "query-tenants" | "compactor", instance: string): Record<string, string> {
    return workloadLabels("thanos", component, instance);
}

/** Marks who a Query serves on its objects (the platform's reads every tenant). */
const queryAudienceLabel = "prometheus-paas.io/audience";

/** The two Queries: the platform's, and the tenants' (enforcing, reached through the instances' history fronts). */
export function thanosQueryObjects(audience: QueryAudience, instance: string): { name: string; labels: Record<string, string>; selector: Record<string, string> } {
    const selector = thanosLabels(audience === "platform" ? "query" : "query-tenants", instance);
    return { name: audience === "platform" ? thanosKubernetesNames.query : thanosKubernetesNames.queryTenants, labels: { ...selector, [queryAudienceLabel]: audience }, selector };
}

/** host:port of the tenants' Query in `namespace`: the upstream of every instance's history front. */
export function tenantQueryAddress(namespace: string): string {
    return `${thanosKubernetesNames.queryTenants}.${namespace}.svc:${queryHttpPort}`;
}

type Container = k8s.types.input.core.v1.Container;

function thanosContainer(name: string, process: ProcessDefaults, args: string[], emptyDir?: string): Container {
    return {
        name,
        image: image("thanos"),
        args,
        ports: [
            { name: "http", containerPort: process.httpPort },
            ...(process.grpcPort !== undefined ? [{ name: "grpc", containerPort: process.grpcPort }] : []),
        ],
        resources: containerResources(process, emptyDir),
        ...containerProbes(process),
        securityContext: containerSecurityContext,
    };
}

/** The data directory of store or compactor: an emptyDir, or a volume claim of the StatefulSet (compactor.scratch.storageClass). */
interface DataVolume {
    /** A Kubernetes quantity. */
    readonly size: string;
    readonly storageClass?: string;
}

/**
 * The pod of a component that reads the bucket: objstore.yml from the Secret `objstoreSecret` (its generated name,
 * new for each new content), and its data directory. An emptyDir's size is also the container's ephemeral-storage
 * request and limit: the scheduler places the pod where the disk is free, and the kubelet evicts it (rather than
 * the node's other pods) when it grows past that size.
 */
function bucketPodTemplate(name: string, labels: Record<string, string>, process: ProcessDefaults, args: string[], replicas: number, objstoreSecret: pulumi.Input<string>, data: DataVolume): k8s.types.input.core.v1.PodTemplateSpec {
    const emptyDir = data.storageClass === undefined;
    return {
        metadata: { labels },
        spec: {
            serviceAccountName: thanosKubernetesNames.serviceAccount,
            securityContext: podSecurityContext,
            affinity: replicas > 1 ? spreadOverNodes(labels) : undefined,
            terminationGracePeriodSeconds: process.stopSeconds,
            containers: [{
                ...thanosContainer(name, process, args, emptyDir ? data.size : undefined),
                volumeMounts: [{ name: "objstore", mountPath: objstoreDir, readOnly: true }, { name: dataVolume, mountPath: dataDir }],
            }],
            volumes: [
                { name: "objstore", secret: { secretName: objstoreSecret } },
                ...(emptyDir ? [{ name: dataVolume, emptyDir: { sizeLimit: data.size } }] : []),
            ],
        },
    };
}

/** A volume claim per pod for the data directory; deleted with the pod's StatefulSet or scale-down (scratch space, no state). */
function dataVolumeClaim(data: Required<DataVolume>): Pick<k8s.types.input.apps.v1.StatefulSetSpec, "volumeClaimTemplates" | "persistentVolumeClaimRetentionPolicy"> {
    return {
        volumeClaimTemplates: [{
            metadata: { name: dataVolume },
            spec: { accessModes: ["ReadWriteOnce"], storageClassName: data.storageClass, resources: { requests: { storage: data.size } } },
        }],
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
    };
}

/** Store gateway: reads blocks from the bucket and serves them over the StoreAPI. */
export function thanosStoreSpec(thanos: ThanosConfig, instance: string, objstoreSecret: pulumi.Input<string>): k8s.types.input.apps.v1.StatefulSetSpec {
    const labels = thanosLabels("store", instance);
    const process = thanosProcesses(thanos).store;
    return {
        serviceName: thanosKubernetesNames.store,
        replicas: thanos.store.replicas,
        selector: { matchLabels: labels },
        template: bucketPodTemplate("store", labels, process, storeArgs({ dataDir, objstoreFile, thanos }), thanos.store.replicas, objstoreSecret, { size: `${process.diskGiB}Gi` }),
    };
}

/** Query: no bucket access and no service account token; fans out to the store and every sidecar. */
export function thanosQuerySpec(thanos: ThanosConfig, instance: string, endpoints: readonly string[], audience: QueryAudience): k8s.types.input.apps.v1.DeploymentSpec {
    const { labels, selector } = thanosQueryObjects(audience, instance);
    const process = thanosProcesses(thanos).query;
    return {
        replicas: thanos.query.replicas,
        selector: { matchLabels: selector },
        template: {
            metadata: { labels },
            spec: {
                securityContext: podSecurityContext,
                automountServiceAccountToken: false,
                affinity: thanos.query.replicas > 1 ? spreadOverNodes(selector) : undefined,
                terminationGracePeriodSeconds: process.stopSeconds,
                containers: [thanosContainer("query", process, queryArgs({ endpoints, replicaLabel: thanos.replicaLabel, audience }))],
            },
        },
    };
}

/** The endpoints query fans out to: the store gateway's and each instance's sidecars. */
export function kubernetesQueryEndpoints(namespace: string, sidecarEndpoints: readonly string[]): string[] {
    return [kubernetesStoreApiEndpoint(thanosKubernetesNames.store, namespace), ...sidecarEndpoints];
}

/**
 * Compactor: a StatefulSet never runs two pods of one ordinal, and replicas is 0 or 1 (singleton per bucket). Its
 * scratch space holds the blocks of one compaction at a time (docs/operating.md sizes it).
 */
export function thanosCompactorSpec(thanos: ThanosConfig, instance: string, objstoreSecret: pulumi.Input<string>): k8s.types.input.apps.v1.StatefulSetSpec {
    const labels = thanosLabels("compactor", instance);
    const args = compactorArgs({ dataDir, objstoreFile, thanos });
    const { storageClass } = thanos.compactor.scratch;
    const data = { size: thanos.compactor.scratch.size, storageClass };
    return {
        serviceName: thanosKubernetesNames.compactor,
        replicas: thanos.compactor.replicas,
        podManagementPolicy: "OrderedReady",
        updateStrategy: { type: "RollingUpdate" },
        selector: { matchLabels: labels },
        template: bucketPodTemplate("compactor", labels, thanosProcesses(thanos).compactor, args, thanos.compactor.replicas, objstoreSecret, data),
        ...(storageClass !== undefined ? dataVolumeClaim({ ...data, storageClass }) : {}),
    };
}
