/**
 * The broker on the Tsuru cluster: a Deployment of the project's image (one replica: it owns its instance stacks'
 * project dir and cancels their stale locks on start), its Service, a volume for the file backend and the stacks'
 * config, a Secret for its credentials, backend passphrase and objstore.yml, its settings as a ConfigMap, and RBAC
 * limited to what the instance stacks create (KubernetesPrometheus) in the instances' namespace, plus the
 * discovery Roles/RoleBindings it grants in the bound apps' namespaces.
 */
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { NetworkConfig } from "../config/types";
import type { BrokerConfig } from "../config/types";
import { brokerNetworkPolicySpec } from "../kubernetes/network-policy";
import { containerProbes, containerResources, containerSecurityContext, podSecurityContext, workloadLabels } from "../kubernetes/workload";
import type { ProcessDefaults } from "../process";

export interface BrokerDeploymentArgs {
    /** Validated `broker` section of the stack. */
    readonly broker: BrokerConfig;
    /** Namespace of the broker itself. */
    readonly namespace: pulumi.Input<string>;
    /** The broker's settings (components/config.ts brokerSettingsSchema), rendered as JSON. */
    readonly settings: pulumi.Input<Record<string, unknown>>;
    /** Basic-auth credentials Tsuru presents (the TsuruService's username and password). */
    readonly username: pulumi.Input<string>;
    readonly password: pulumi.Input<string>;
    /** Passphrase of the instance stacks' backend. */
    readonly backendPassphrase: pulumi.Input<string>;
    /** objstore.yml of the shared bucket, for the instances' sidecars. */
    readonly objstoreConfig: pulumi.Input<string>;
    /** Where Grafana reads datasources, when the platform provisions them: the instances' go there too. */
    readonly grafanaNamespace?: string;
    /** Where the broker's peers are (Tsuru's API, the API server, DNS, the bucket): its NetworkPolicy. */
    readonly network: NetworkConfig;
}

const dataDir = "/var/lib/broker";

/** Pod-template annotation: the SHA-256 of settings.json, so that new settings restart the broker. */
export const settingsChecksumAnnotation = "paas.tsuru.io/settings-sha256";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The broker process: Node plus up to `concurrency` engine runs (a pulumi CLI and a provider each). */
export function brokerDefaults(port: number): ProcessDefaults {
    return {
        cpu: "500m",
        memory: { requestMiB: 1024, limitMiB: 2048 },
        httpPort: port,
        readiness: { path: "/healthz", periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 5 },
        liveness: { path: "/healthz", periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 5 },
        startSeconds: 60,
        // Lets running engine runs reach their checkpoint.
        stopSeconds: 60,
    };
}

/** What KubernetesPrometheus creates in the instances' namespace: the broker may manage exactly these. */
export const instanceNamespaceRules: k8s.types.input.rbac.v1.PolicyRule[] = [
    { apiGroups: [""], resources: ["configmaps", "secrets", "services", "serviceaccounts"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
    { apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
    { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
];

/**
 * Discovery grants in the apps' namespaces (any namespace a pool maps to): Roles and RoleBindings, and the
 * read rights those Roles hand out (Kubernetes lets a subject grant only what it holds itself).
 */
export const discoveryGrantRules: k8s.types.input.rbac.v1.PolicyRule[] = [
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
    { apiGroups: [""], resources: ["pods", "endpoints", "services"], verbs: ["get", "list", "watch"] },
];

/** Each instance's Grafana datasources (a Secret per instance) in Grafana's namespace, and nothing else there. */
export const grafanaNamespaceRules: k8s.types.input.rbac.v1.PolicyRule[] = [
    { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
];

export class BrokerDeployment extends pulumi.ComponentResource {
    /** In-cluster URL Tsuru calls (the TsuruService endpoint of this cluster). */
    readonly url: pulumi.Output<string>;

    constructor(name: string, args: BrokerDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("paas:broker:BrokerDeployment", name, {}, opts);
        const child = { parent: this };
        const { broker } = args;
        const brokerProcess = brokerDefaults(broker.port);
        const labels = workloadLabels("prometheus-broker", "broker", name);
        const metadata = { name: "prometheus-broker", namespace: args.namespace, labels };

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata }, child);
        const subject = { kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: args.namespace };
        /** A Role in `namespace` bound to the broker's service account. */
        const grant = (suffix: string, roleName: string, namespace: string, rules: k8s.types.input.rbac.v1.PolicyRule[]) => {
            const objectMetadata = { name: roleName, namespace, labels };
            const role = new k8s.rbac.v1.Role(`${name}-${suffix}`, { metadata: objectMetadata, rules }, child);
            new k8s.rbac.v1.RoleBinding(`${name}-${suffix}`, {
                metadata: objectMetadata,
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [subject],
            }, child);
        };
        grant("instances", "prometheus-broker-instances", broker.instanceNamespace, instanceNamespaceRules);
        if (args.grafanaNamespace !== undefined) grant("grafana", "prometheus-broker-datasources", args.grafanaNamespace, grafanaNamespaceRules);
        const grants = new k8s.rbac.v1.ClusterRole(`${name}-discovery-grants`, {
            metadata: { name: pulumi.interpolate`prometheus-broker-discovery-grants-${args.namespace}`, labels },
            rules: discoveryGrantRules,
        }, child);
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-discovery-grants`, {
            metadata: { name: pulumi.interpolate`prometheus-broker-discovery-grants-${args.namespace}`, labels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: grants.metadata.name },
            subjects: [subject],
        }, child);

        // Auto-named like every Secret the pods read only at start: new credentials are a new Secret, which restarts the broker (kubernetes/provider.ts).
        const secret = new k8s.core.v1.Secret(`${name}-credentials`, {
            metadata: { namespace: args.namespace, labels },
            stringData: {
                username: args.username,
                password: pulumi.secret(args.password),
                "backend-passphrase": pulumi.secret(args.backendPassphrase),
                "objstore.yml": pulumi.secret(args.objstoreConfig),
            },
        }, child);
        const settingsJson = pulumi.output(args.settings).apply((value) => JSON.stringify(value, null, 2));
        const settings = new k8s.core.v1.ConfigMap(`${name}-settings`, {
            metadata: { ...metadata, name: "prometheus-broker-settings" },
            data: { "settings.json": settingsJson },
        }, child);
        const volume = new k8s.core.v1.PersistentVolumeClaim(`${name}-data`, {
            metadata: { ...metadata, name: "prometheus-broker-data" },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: broker.storage } } },
        }, child);

        const fromSecret = (key: string) => ({ secretKeyRef: { name: secret.metadata.name, key } });
        new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata,
            spec: {
                replicas: 1,
                // Two brokers must never run one instance stack at once: the old pod stops before the new one starts.
                strategy: { type: "Recreate" },
                selector: { matchLabels: labels },
                template: {
                    // ConfigMaps change in place (kubernetes/provider.ts), and the broker reads its settings only at start.
                    metadata: { labels, annotations: { [settingsChecksumAnnotation]: settingsJson.apply(sha256) } },
                    spec: {
                        serviceAccountName: serviceAccount.metadata.name,
                        securityContext: podSecurityContext,
                        terminationGracePeriodSeconds: brokerProcess.stopSeconds,
                        containers: [{
                            name: "broker",
                            image: broker.image,
                            args: [
                                "--port", String(broker.port),
                                "--host", "0.0.0.0",
                                "--backend", broker.backendUrl ?? `file://${dataDir}/state`,
                                "--work-dir", `${dataDir}/workspace`,
                                "--target", "kubernetes",
                                "--settings", "/etc/broker/settings.json",
                                "--concurrency", String(broker.concurrency),
                            ],
                            env: [
                                { name: "PAAS_BROKER_USERNAME", valueFrom: fromSecret("username") },
                                { name: "PAAS_BROKER_PASSWORD", valueFrom: fromSecret("password") },
                                { name: "PAAS_BROKER_BACKEND_PASSPHRASE", valueFrom: fromSecret("backend-passphrase") },
                                { name: "PAAS_BROKER_OBJSTORE", valueFrom: fromSecret("objstore.yml") },
                                { name: "HOME", value: "/tmp" },
                            ],
                            ports: [{ name: "http", containerPort: broker.port }],
                            resources: containerResources(brokerProcess),
                            ...containerProbes(brokerProcess),
                            securityContext: containerSecurityContext,
                            volumeMounts: [
                                { name: "data", mountPath: dataDir },
                                { name: "settings", mountPath: "/etc/broker", readOnly: true },
                                { name: "tmp", mountPath: "/tmp" },
                                { name: "pulumi-workspaces", mountPath: "/opt/pulumi-home/workspaces" },
                            ],
                        }],
                        volumes: [
                            { name: "data", persistentVolumeClaim: { claimName: volume.metadata.name } },
                            { name: "settings", configMap: { name: settings.metadata.name } },
                            { name: "tmp", emptyDir: { sizeLimit: "1Gi" } },
                            { name: "pulumi-workspaces", emptyDir: { sizeLimit: "64Mi" } },
                        ],
                    },
                },
            },
        }, child);
        new k8s.networking.v1.NetworkPolicy(`${name}-network`, {
            metadata,
            spec: brokerNetworkPolicySpec({ network: args.network, pods: labels, backendInBucket: broker.backendUrl !== undefined && !broker.backendUrl.startsWith("file://") }),
        }, child);
        const service = new k8s.core.v1.Service(`${name}-service`, {
            metadata,
            spec: { type: "ClusterIP", selector: labels, ports: [{ name: "http", port: broker.port, targetPort: "http" }] },
        }, child);

        this.url = pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc:${broker.port}`;
        this.registerOutputs({ url: this.url });
    }
}
