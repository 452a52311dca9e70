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
import { thanosProcesses } from "./defaults";
import { compactorArgs, queryArgs, storeArgs } from "./render";

const objstoreDir = "/etc/thanos";
const objstoreFile = `${objstoreDir}/objstore.yml`;
const dataDir = "/var/thanos";

export const thanosKubernetesNames = {
    serviceAccount: "thanos",
    store: "thanos-store",
    query: "thanos-query",
    compactor: "thanos-compactor",
} as const;

export function thanosLabels(component: "thanos" | "objstore" | "store" | "query" | "compactor", instance: string): Record<string, string> {
    return workloadLabels("thanos", component, instance);
}

type Container = k8s.types.input.core.v1.Container;

function thanosContainer(name: string, process: ProcessDefaults, args: string[]): Container {
    return {
        name,
        image: image("thanos"),
        args,
        ports: [
            { name: "http", containerPort: process.httpPort },
            ...(process.grpcPort !== undefined ? [{ name: "grpc", containerPort: process.grpcPort }] : []),
        ],
        resources: containerResources(process),
        ...containerProbes(process),
        securityContext: containerSecurityContext,
    };
}

/**
 * The pod of a component that reads the bucket: objstore.yml from the Secret `objstoreSecret` (its generated name,
 * new for each new content), a data directory sized by the table.
 */
function bucketPodTemplate(name: string, labels: Record<string, string>, process: ProcessDefaults, args: string[], replicas: number, objstoreSecret: pulumi.Input<string>): k8s.types.input.core.v1.PodTemplateSpec {
    return {
        metadata: { labels },
        spec: {
            serviceAccountName: thanosKubernetesNames.serviceAccount,
            securityContext: podSecurityContext,
            affinity: replicas > 1 ? spreadOverNodes(labels) : undefined,
            terminationGracePeriodSeconds: process.stopSeconds,
            containers: [{
                ...thanosContainer(name, process, args),
                volumeMounts: [{ name: "objstore", mountPath: objstoreDir, readOnly: true }, { name: "data", mountPath: dataDir }],
            }],
            volumes: [
                { name: "objstore", secret: { secretName: objstoreSecret } },
                { name: "data", emptyDir: { sizeLimit: `${process.diskGiB}Gi` } },
            ],
        },
    };
}

/** Store gateway: reads blocks from the bucket and serves them over the StoreAPI. */
export function thanosStoreSpec(thanos: ThanosConfig, instance: string, objstoreSecret: pulumi.Input<string>): k8s.types.input.apps.v1.StatefulSetSpec {
    const labels = thanosLabels("store", instance);
    return {
        serviceName: thanosKubernetesNames.store,
        replicas: thanos.store.replicas,
        selector: { matchLabels: labels },
        template: bucketPodTemplate("store", labels, thanosProcesses(thanos).store, storeArgs({ dataDir, objstoreFile }), thanos.store.replicas, objstoreSecret),
    };
}

/** Query: no bucket access and no service account token; fans out to the store and every sidecar. */
export function thanosQuerySpec(thanos: ThanosConfig, instance: string, endpoints: readonly string[]): k8s.types.input.apps.v1.DeploymentSpec {
    const labels = thanosLabels("query", instance);
    const process = thanosProcesses(thanos).query;
    return {
        replicas: thanos.query.replicas,
        selector: { matchLabels: labels },
        template: {
            metadata: { labels },
            spec: {
                securityContext: podSecurityContext,
                automountServiceAccountToken: false,
                affinity: thanos.query.replicas > 1 ? spreadOverNodes(labels) : undefined,
                terminationGracePeriodSeconds: process.stopSeconds,
                containers: [thanosContainer("query", process, queryArgs({ endpoints, replicaLabel: thanos.replicaLabel }))],
            },
        },
    };
}

/** The endpoints query fans out to: the store gateway's and each instance's sidecars. */
export function kubernetesQueryEndpoints(namespace: string, sidecarEndpoints: readonly string[]): string[] {
    return [kubernetesStoreApiEndpoint(thanosKubernetesNames.store, namespace), ...sidecarEndpoints];
}

/** Compactor: a StatefulSet never runs two pods of one ordinal, and replicas is 0 or 1 (singleton per bucket). */
export function thanosCompactorSpec(thanos: ThanosConfig, instance: string, objstoreSecret: pulumi.Input<string>): k8s.types.input.apps.v1.StatefulSetSpec {
    const labels = thanosLabels("compactor", instance);
    const args = compactorArgs({ dataDir, objstoreFile, compactor: thanos.compactor });
    return {
        serviceName: thanosKubernetesNames.compactor,
        replicas: thanos.compactor.replicas,
        podManagementPolicy: "OrderedReady",
        updateStrategy: { type: "RollingUpdate" },
        selector: { matchLabels: labels },
        template: bucketPodTemplate("compactor", labels, thanosProcesses(thanos).compactor, args, thanos.compactor.replicas, objstoreSecret),
    };
}
