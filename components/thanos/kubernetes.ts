import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { assertCompactorSingleton, ThanosConfig } from "../config";
import { image } from "../images";
import { containerSecurityContext, httpProbe, podSecurityContext, spreadOverNodes, workloadLabels } from "../kubernetes/workload";
import { compactorArgs, queryArgs, queryHttpPort, storeArgs, thanosGrpcPort, thanosHttpPort } from "./render";

const objstoreDir = "/etc/thanos";
const dataDir = "/var/thanos";

export interface KubernetesThanosArgs {
    /** Namespace of the Thanos components (the Prometheus instances' namespace). */
    readonly namespace: pulumi.Input<string>;
    /** Validated Thanos settings: replica label, replicas, compactor retention. */
    readonly thanos: ThanosConfig;
    /** objstore.yml for store and compactor (kept secret). */
    readonly objstoreConfig: pulumi.Input<string>;
    /** Headless services of the Prometheus instances whose sidecars query fans out to. */
    readonly sidecarServices: pulumi.Input<string>[];
}

/** Thanos store gateway, query and the singleton compactor for one bucket. */
export class KubernetesThanos extends pulumi.ComponentResource {
    /** In-cluster URL of Thanos Query: Grafana's datasource for recent and historical data. */
    readonly queryUrl: pulumi.Output<string>;

    constructor(name: string, args: KubernetesThanosArgs, opts?: pulumi.ComponentResourceOptions) {
        assertCompactorSingleton(args.thanos.compactor.replicas);
        super("paas:thanos:KubernetesThanos", name, {}, opts);
        const child = { parent: this };
        const { thanos } = args;

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, {
            metadata: { name: "thanos", namespace: args.namespace, labels: workloadLabels("thanos", "thanos", name) },
        }, child);
        const objstore = new k8s.core.v1.Secret(`${name}-objstore`, {
            metadata: { name: "thanos-objstore", namespace: args.namespace, labels: workloadLabels("thanos", "objstore", name) },
            stringData: { "objstore.yml": pulumi.secret(args.objstoreConfig) },
        }, child);
        const objstoreVolume = { name: "objstore", secret: { secretName: objstore.metadata.name } };
        const objstoreMount = { name: "objstore", mountPath: objstoreDir, readOnly: true };
        const objstoreFile = `${objstoreDir}/objstore.yml`;

        const thanosContainer = (component: string, args: string[], memory: string) => ({
            name: component,
            image: image("thanos"),
            args,
            ports: [{ name: "http", containerPort: thanosHttpPort }, ...(component === "compactor" ? [] : [{ name: "grpc", containerPort: thanosGrpcPort }])],
            resources: { requests: { cpu: "100m", memory }, limits: { memory } },
            readinessProbe: httpProbe("/-/ready", thanosHttpPort),
            livenessProbe: httpProbe("/-/healthy", thanosHttpPort, 30),
            securityContext: containerSecurityContext,
        });

        // Store gateway: reads blocks from the bucket and serves them over the StoreAPI.
        const storeLabels = workloadLabels("thanos", "store", name);
        const storeService = new k8s.core.v1.Service(`${name}-store`, {
            metadata: { name: "thanos-store", namespace: args.namespace, labels: storeLabels },
            spec: { clusterIP: "None", selector: storeLabels, ports: [{ name: "grpc", port: thanosGrpcPort, targetPort: "grpc" }, { name: "http", port: thanosHttpPort, targetPort: "http" }] },
        }, child);
        new k8s.apps.v1.StatefulSet(`${name}-store`, {
            metadata: { name: "thanos-store", namespace: args.namespace, labels: storeLabels },
            spec: {
                serviceName: storeService.metadata.name,
                replicas: thanos.store.replicas,
                selector: { matchLabels: storeLabels },
                template: {
                    metadata: { labels: storeLabels },
                    spec: {
                        serviceAccountName: serviceAccount.metadata.name,
                        securityContext: podSecurityContext,
                        affinity: thanos.store.replicas > 1 ? spreadOverNodes(storeLabels) : undefined,
                        containers: [{
                            ...thanosContainer("store", storeArgs({ dataDir, objstoreFile }), thanos.store.memory),
                            volumeMounts: [objstoreMount, { name: "data", mountPath: dataDir }],
                        }],
                        volumes: [objstoreVolume, { name: "data", emptyDir: { sizeLimit: "10Gi" } }],
                    },
                },
            },
        }, child);

        // Query: no bucket access at all; internal ClusterIP service only.
        const queryLabels = workloadLabels("thanos", "query", name);
        const endpoints = pulumi
            .all([storeService.metadata.name, pulumi.output(args.namespace), ...args.sidecarServices])
            .apply(([store, namespace, ...sidecars]) => [
                `dnssrv+_grpc._tcp.${store}.${namespace}.svc.cluster.local`,
                ...sidecars.map((service) => `dnssrv+_grpc._tcp.${service}`),
            ]);
        new k8s.apps.v1.Deployment(`${name}-query`, {
            metadata: { name: "thanos-query", namespace: args.namespace, labels: queryLabels },
            spec: {
                replicas: thanos.query.replicas,
                selector: { matchLabels: queryLabels },
                template: {
                    metadata: { labels: queryLabels },
                    spec: {
                        securityContext: podSecurityContext,
                        automountServiceAccountToken: false,
                        affinity: thanos.query.replicas > 1 ? spreadOverNodes(queryLabels) : undefined,
                        containers: [{
                            ...thanosContainer("query", [], "512Mi"),
                            args: endpoints.apply((list) => queryArgs({ endpoints: list, replicaLabel: thanos.replicaLabel })),
                            ports: [{ name: "http", containerPort: queryHttpPort }, { name: "grpc", containerPort: thanosGrpcPort }],
                            readinessProbe: httpProbe("/-/ready", queryHttpPort),
                            livenessProbe: httpProbe("/-/healthy", queryHttpPort, 30),
                        }],
                    },
                },
            },
        }, child);
        const queryService = new k8s.core.v1.Service(`${name}-query`, {
            metadata: { name: "thanos-query", namespace: args.namespace, labels: queryLabels },
            spec: { type: "ClusterIP", selector: queryLabels, ports: [{ name: "http", port: queryHttpPort, targetPort: "http" }, { name: "grpc", port: thanosGrpcPort, targetPort: "grpc" }] },
        }, child);

        // Compactor: a StatefulSet never runs two pods of one ordinal, and replicas is 0 or 1.
        const compactorLabels = workloadLabels("thanos", "compactor", name);
        new k8s.apps.v1.StatefulSet(`${name}-compactor`, {
            metadata: { name: "thanos-compactor", namespace: args.namespace, labels: compactorLabels },
            spec: {
                serviceName: "thanos-compactor",
                replicas: thanos.compactor.replicas,
                podManagementPolicy: "OrderedReady",
                updateStrategy: { type: "RollingUpdate" },
                selector: { matchLabels: compactorLabels },
                template: {
                    metadata: { labels: compactorLabels },
                    spec: {
                        serviceAccountName: serviceAccount.metadata.name,
                        securityContext: podSecurityContext,
                        terminationGracePeriodSeconds: 120,
                        containers: [{
                            ...thanosContainer("compactor", compactorArgs({ dataDir, objstoreFile, compactor: thanos.compactor }), thanos.compactor.memory),
                            volumeMounts: [objstoreMount, { name: "data", mountPath: dataDir }],
                        }],
                        volumes: [objstoreVolume, { name: "data", emptyDir: { sizeLimit: "20Gi" } }],
                    },
                },
            },
        }, child);

        this.queryUrl = pulumi.interpolate`http://${queryService.metadata.name}.${queryService.metadata.namespace}.svc:${queryHttpPort}`;
        this.registerOutputs({ queryUrl: this.queryUrl });
    }
}
