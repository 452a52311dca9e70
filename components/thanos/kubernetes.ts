import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { assertCompactorSingleton } from "../config/schema";
import type { NetworkConfig, ThanosConfig } from "../config/types";
import { thanosNetworkPolicySpecs } from "../kubernetes/network-policy";
import { queryHttpPort, thanosPorts } from "./defaults";
import { kubernetesQueryEndpoints, thanosCompactorSpec, thanosKubernetesNames as names, thanosLabels, thanosQueryObjects, thanosQuerySpec, thanosStoreSpec } from "./kubernetes-spec";
import type { QueryAudience } from "./render";

export interface KubernetesThanosArgs {
    /** Namespace of the Thanos components (the Prometheus instances' namespace). */
    readonly namespace: pulumi.Input<string>;
    /** Validated Thanos settings: replica label, replicas, compactor retention. */
    readonly thanos: ThanosConfig;
    /** objstore.yml for store and compactor (kept secret). */
    readonly objstoreConfig: pulumi.Input<string>;
    /** Query endpoints of the instances' sidecars (KubernetesPrometheus.storeApiEndpoint). */
    readonly sidecarStoreApiEndpoints: pulumi.Input<string>[];
    /** Where the pods' peers are: each component's NetworkPolicy admits only them. */
    readonly network: NetworkConfig;
    /** Namespaces of the Prometheus pods the Queries read (this one and the broker's instances'). */
    readonly instanceNamespaces: pulumi.Input<string>[];
}

/** Thanos store gateway, query and the singleton compactor for one bucket; the specs come from kubernetes-spec.ts. */
export class KubernetesThanos extends pulumi.ComponentResource {
    /** In-cluster URL of the platform's Thanos Query (every tenant): the platform Grafana's datasource and alerting. */
    readonly queryUrl: pulumi.Output<string>;

    constructor(name: string, args: KubernetesThanosArgs, opts?: pulumi.ComponentResourceOptions) {
        assertCompactorSingleton(args.thanos.compactor.replicas);
        super("paas:thanos:KubernetesThanos", name, {}, opts);
        const child = { parent: this };
        const { thanos } = args;
        const metadata = (objectName: string, labels: Record<string, string>) => ({ name: objectName, namespace: args.namespace, labels });

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: metadata(names.serviceAccount, thanosLabels("thanos", name)) }, child);
        // Named by the provider (`<name>-objstore-<suffix>`): a new objstore.yml is a new Secret, which rolls store and compactor.
        const objstore = new k8s.core.v1.Secret(`${name}-objstore`, {
            metadata: { namespace: args.namespace, labels: thanosLabels("objstore", name) },
            stringData: { "objstore.yml": pulumi.secret(args.objstoreConfig) },
        }, child);
        // The specs name the service account and the objstore Secret: they must exist first.
        const specNeeds = [serviceAccount, objstore];

        const storeLabels = thanosLabels("store", name);
        const storeService = new k8s.core.v1.Service(`${name}-store`, {
            metadata: metadata(names.store, storeLabels),
            spec: { clusterIP: "None", selector: storeLabels, ports: [{ name: "grpc", port: thanosPorts.grpc, targetPort: "grpc" }, { name: "http", port: thanosPorts.http, targetPort: "http" }] },
        }, child);
        new k8s.apps.v1.StatefulSet(`${name}-store`, { metadata: metadata(names.store, storeLabels), spec: thanosStoreSpec(thanos, name, objstore.metadata.name) }, { ...child, dependsOn: [...specNeeds, storeService] });

        const endpoints = pulumi.all([pulumi.output(args.namespace), ...args.sidecarStoreApiEndpoints])
            .apply(([namespace, ...sidecars]) => kubernetesQueryEndpoints(namespace, sidecars));
        const queryServices = Object.fromEntries((["platform", "tenants"] as const).map((audience) => {
            const objects = thanosQueryObjects(audience, name);
            const suffix = audience === "platform" ? "query" : "query-tenants";
            new k8s.apps.v1.Deployment(`${name}-${suffix}`, {
                metadata: metadata(objects.name, objects.labels),
                spec: endpoints.apply((list) => thanosQuerySpec(thanos, name, list, audience)),
            }, child);
            // The tenants' Query serves HTTP only: its gRPC listens on loopback (it would serve every tenant).
            const ports = [{ name: "http", port: queryHttpPort, targetPort: "http" }, ...(audience === "platform" ? [{ name: "grpc", port: thanosPorts.grpc, targetPort: "grpc" }] : [])];
            return [audience, new k8s.core.v1.Service(`${name}-${suffix}`, { metadata: metadata(objects.name, objects.labels), spec: { type: "ClusterIP", selector: objects.selector, ports } }, child)];
        })) as Record<QueryAudience, k8s.core.v1.Service>;

        new k8s.apps.v1.StatefulSet(`${name}-compactor`, { metadata: metadata(names.compactor, thanosLabels("compactor", name)), spec: thanosCompactorSpec(thanos, name, objstore.metadata.name) }, { ...child, dependsOn: specNeeds });

        const policies = pulumi.all(args.instanceNamespaces).apply((instanceNamespaces) => thanosNetworkPolicySpecs({
            network: args.network,
            instanceNamespaces,
            instance: name,
        }));
        for (const [component, objectName] of [["store", names.store], ["compactor", names.compactor], ["query", names.query], ["queryTenants", names.queryTenants]] as const) {
            new k8s.networking.v1.NetworkPolicy(`${name}-${objectName}-network`, {
                metadata: metadata(objectName, thanosLabels("thanos", name)),
                spec: policies.apply((specs) => specs[component]),
            }, child);
        }

        const platformQuery = queryServices.platform;
        this.queryUrl = pulumi.interpolate`http://${platformQuery.metadata.name}.${platformQuery.metadata.namespace}.svc:${queryHttpPort}`;
        this.registerOutputs({ queryUrl: this.queryUrl });
    }
}
