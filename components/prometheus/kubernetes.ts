import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { InstanceConfig } from "../config";
import { envsubstScript } from "../envsubst";
import { image } from "../images";
import {
    containerSecurityContext,
    httpProbe,
    podNameEnv,
    podSecurityContext,
    spreadOverNodes,
    workloadLabels,
} from "../kubernetes/workload";
import { prometheusMemoryLimitMiB } from "../plans";
import { sidecarArgs, thanosGrpcPort, thanosHttpPort } from "../thanos/render";
import { mebibytes } from "../units";
import { ExternalLabelContext, prometheusArgs, prometheusWebPort, renderInstanceFiles, tsuruAppScrapeJob, tsuruJobScrapeJob } from "./render";

/** Placeholder the sidecar's reloader (and the init container) replace with the pod name. */
export const replicaPlaceholder = "$(POD_NAME)";

const paths = {
    tsdb: "/prometheus",
    configTemplateDir: "/etc/prometheus/config",
    configOutDir: "/etc/prometheus/config_out",
    rules: "/etc/prometheus/rules",
    objstore: "/etc/thanos",
};
const configTemplate = `${paths.configTemplateDir}/prometheus.yml.tmpl`;
const configOut = `${paths.configOutDir}/prometheus.yml`;

export interface KubernetesPrometheusArgs {
    /** The validated instance: name, plan, team, bound apps, replicas, labels, rules. */
    readonly instance: InstanceConfig;
    /** Namespace the Prometheus pods run in. */
    readonly namespace: pulumi.Input<string>;
    /** Stack-wide external label values and the replica label name. */
    readonly labels: ExternalLabelContext;
    /** Alertmanager URLs the instance sends alerts to. */
    readonly alertmanagers: readonly string[];
    /** objstore.yml for the sidecar's uploads (kept secret). */
    readonly objstoreConfig: pulumi.Input<string>;
}

/** Renders the files of one instance; the replica label is left as a placeholder for the reloader. */
export function renderKubernetesInstanceFiles(args: Pick<KubernetesPrometheusArgs, "instance" | "labels" | "alertmanagers">) {
    return renderInstanceFiles({
        ...args,
        replicaValue: replicaPlaceholder,
        scrapeJobs: [
            ...args.instance.apps.map((app) => tsuruAppScrapeJob(app, args.instance.plan)),
            ...(args.instance.jobs ?? []).map((job) => tsuruJobScrapeJob(job, args.instance.plan)),
        ],
        ruleDir: paths.rules,
    });
}

/**
 * One tenant's Prometheus on Kubernetes: TSDB on tmpfs, Thanos sidecar, discovery of every unit of the bound
 * Tsuru apps with RBAC limited to their namespaces.
 */
export class KubernetesPrometheus extends pulumi.ComponentResource {
    /** In-cluster URL of the Prometheus web API (any replica). */
    readonly url: pulumi.Output<string>;
    /** Headless service whose SRV records list every sidecar's gRPC StoreAPI. */
    readonly storeApiService: pulumi.Output<string>;
    readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: KubernetesPrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
        super("paas:prometheus:KubernetesInstance", name, {}, opts);
        const { instance } = args;
        const child = { parent: this };
        const baseName = `prometheus-${instance.name}`;
        const labels = workloadLabels("prometheus", "prometheus", instance.name);
        const files = renderKubernetesInstanceFiles(args);

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, {
            metadata: { name: baseName, namespace: args.namespace, labels },
        }, child);

        // Discovery rights only in the namespaces of the bound apps, never cluster-wide.
        const appNamespaces = [...new Set([...instance.apps, ...(instance.jobs ?? [])].map((target) => target.namespace))].sort();
        for (const appNamespace of appNamespaces) {
            const role = new k8s.rbac.v1.Role(`${name}-discovery-${appNamespace}`, {
                metadata: { name: `${baseName}-discovery`, namespace: appNamespace, labels },
                rules: [{ apiGroups: [""], resources: ["pods", "endpoints", "services"], verbs: ["get", "list", "watch"] }],
            }, child);
            new k8s.rbac.v1.RoleBinding(`${name}-discovery-${appNamespace}`, {
                metadata: { name: `${baseName}-discovery`, namespace: appNamespace, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: args.namespace }],
            }, child);
        }

        const config = new k8s.core.v1.ConfigMap(`${name}-config`, {
            metadata: { name: `${baseName}-config`, namespace: args.namespace, labels },
            data: { "prometheus.yml.tmpl": files.prometheusYml },
        }, child);
        const rules = new k8s.core.v1.ConfigMap(`${name}-rules`, {
            metadata: { name: `${baseName}-rules`, namespace: args.namespace, labels },
            data: files.ruleFiles,
        }, child);
        const objstore = new k8s.core.v1.Secret(`${name}-objstore`, {
            metadata: { name: `${baseName}-objstore`, namespace: args.namespace, labels },
            stringData: { "objstore.yml": pulumi.secret(args.objstoreConfig) },
        }, child);

        const ports = [
            { name: "web", port: prometheusWebPort, targetPort: "web" },
            { name: "grpc", port: thanosGrpcPort, targetPort: "grpc" },
        ];
        const headless = new k8s.core.v1.Service(`${name}-headless`, {
            metadata: { name: `${baseName}-headless`, namespace: args.namespace, labels },
            spec: { clusterIP: "None", selector: labels, ports },
        }, child);
        const service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: { name: baseName, namespace: args.namespace, labels },
            spec: { type: "ClusterIP", selector: labels, ports },
        }, child);

        const memoryLimit = mebibytes(prometheusMemoryLimitMiB(instance.plan));
        new k8s.apps.v1.StatefulSet(`${name}-statefulset`, {
            metadata: { name: baseName, namespace: args.namespace, labels },
            spec: {
                serviceName: headless.metadata.name,
                replicas: instance.replicas,
                podManagementPolicy: "Parallel",
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels, annotations: { "paas.tsuru.io/team": instance.team } },
                    spec: {
                        serviceAccountName: serviceAccount.metadata.name,
                        securityContext: podSecurityContext,
                        affinity: instance.replicas > 1 ? spreadOverNodes(labels) : undefined,
                        terminationGracePeriodSeconds: 120,
                        initContainers: [{
                            // The sidecar writes the substituted config only once running; Prometheus needs it at start.
                            name: "config-init",
                            image: image("busybox"),
                            command: ["sh", "-c", envsubstScript(configTemplate, configOut)],
                            env: [podNameEnv],
                            resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } },
                            securityContext: containerSecurityContext,
                            volumeMounts: [
                                { name: "config", mountPath: paths.configTemplateDir, readOnly: true },
                                { name: "config-out", mountPath: paths.configOutDir },
                            ],
                        }],
                        containers: [
                            {
                                name: "prometheus",
                                image: image("prometheus"),
                                args: prometheusArgs({ configFile: configOut, tsdbPath: paths.tsdb, plan: instance.plan }),
                                ports: [{ name: "web", containerPort: prometheusWebPort }],
                                resources: {
                                    requests: { cpu: instance.plan.cpu, memory: memoryLimit },
                                    limits: { memory: memoryLimit },
                                },
                                readinessProbe: httpProbe("/-/ready", prometheusWebPort, 5, 60),
                                livenessProbe: httpProbe("/-/healthy", prometheusWebPort, 15, 8),
                                securityContext: containerSecurityContext,
                                volumeMounts: [
                                    { name: "tsdb", mountPath: paths.tsdb },
                                    { name: "config-out", mountPath: paths.configOutDir, readOnly: true },
                                    { name: "rules", mountPath: paths.rules, readOnly: true },
                                ],
                            },
                            {
                                name: "thanos-sidecar",
                                image: image("thanos"),
                                args: sidecarArgs({
                                    tsdbPath: paths.tsdb,
                                    objstoreFile: `${paths.objstore}/objstore.yml`,
                                    configTemplate,
                                    configOut,
                                    ruleDir: paths.rules,
                                }),
                                env: [podNameEnv],
                                ports: [
                                    { name: "grpc", containerPort: thanosGrpcPort },
                                    { name: "sidecar-http", containerPort: thanosHttpPort },
                                ],
                                resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                                readinessProbe: httpProbe("/-/ready", thanosHttpPort),
                                livenessProbe: httpProbe("/-/healthy", thanosHttpPort, 15),
                                securityContext: containerSecurityContext,
                                volumeMounts: [
                                    { name: "tsdb", mountPath: paths.tsdb },
                                    { name: "config", mountPath: paths.configTemplateDir, readOnly: true },
                                    { name: "config-out", mountPath: paths.configOutDir },
                                    { name: "rules", mountPath: paths.rules, readOnly: true },
                                    { name: "objstore", mountPath: paths.objstore, readOnly: true },
                                ],
                            },
                        ],
                        volumes: [
                            // tmpfs: counts against the prometheus container's memory limit, lost on restart.
                            { name: "tsdb", emptyDir: { medium: "Memory", sizeLimit: mebibytes(instance.plan.tmpfsMiB) } },
                            { name: "config", configMap: { name: config.metadata.name } },
                            { name: "config-out", emptyDir: { sizeLimit: "8Mi" } },
                            { name: "rules", configMap: { name: rules.metadata.name } },
                            { name: "objstore", secret: { secretName: objstore.metadata.name } },
                        ],
                    },
                },
            },
        }, child);

        if (instance.replicas > 1) {
            new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
                metadata: { name: baseName, namespace: args.namespace, labels },
                spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
            }, child);
        }

        this.serviceName = service.metadata.name;
        this.url = pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc:${prometheusWebPort}`;
        this.storeApiService = pulumi.interpolate`${headless.metadata.name}.${headless.metadata.namespace}.svc.cluster.local`;
        this.registerOutputs({ url: this.url, storeApiService: this.storeApiService, serviceName: this.serviceName });
    }
}
