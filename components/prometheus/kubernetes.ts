import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { formerly } from "../aliases";
import type { NetworkConfig } from "../config/types";
import type { KubernetesInstanceConfig } from "../config/types";
import { prometheusNetworkPolicySpec } from "../kubernetes/network-policy";
import { tenantQueryAddress } from "../thanos/kubernetes-spec";
import { historyFrontDefaults } from "../thanos/defaults";
import { prometheusWebPort } from "./defaults";
import { flushFiles } from "./flush";
import {
    kubernetesPrometheusNames,
    kubernetesStoreApiEndpoint,
    discoveryRules,
    kubernetesScrapeJobs,
    kubernetesWebClientAuth,
    prometheusPodLabels,
    prometheusServicePorts,
    prometheusStatefulSetSpec,
    renderKubernetesInstanceFiles,
} from "./kubernetes-spec";
import type { ExternalLabelContext } from "./render";
import { renderClientConfig, renderInstanceAuthFiles, webAuthFiles } from "./web-auth";

export { replicaPlaceholder } from "./kubernetes-spec";

export interface KubernetesPrometheusArgs {
    /** The validated instance: name, plan, team, bound apps, replicas, labels, rules. */
    readonly instance: KubernetesInstanceConfig;
    /** Namespace the Prometheus pods run in. */
    readonly namespace: pulumi.Input<string>;
    /** Stack-wide external label values and the replica label name. */
    readonly labels: ExternalLabelContext;
    /** Alertmanager URLs the instance sends alerts to. */
    readonly alertmanagers: readonly string[];
    /** objstore.yml for the sidecar's uploads (kept secret). */
    readonly objstoreConfig: pulumi.Input<string>;
    /** The instance's password (its user is the instance's name): every endpoint of its Prometheus asks for it. */
    readonly password: pulumi.Input<string>;
    /** Namespace of the platform's Thanos: its tenants' Query is the history front's upstream, its Queries read the sidecars. */
    readonly thanosNamespace: pulumi.Input<string>;
    /** Where the pods' peers are: the instance's NetworkPolicy admits only them. */
    readonly network: NetworkConfig;
}

/**
 * One tenant's Prometheus on Kubernetes: TSDB on tmpfs, Thanos sidecar, discovery of every unit of the bound
 * Tsuru apps with RBAC limited to their namespaces. The objects come from kubernetes-spec.ts; this only wires them.
 */
export class KubernetesPrometheus extends pulumi.ComponentResource {
    /** In-cluster URL of the Prometheus web API (any replica). */
    readonly url: pulumi.Output<string>;
    /** In-cluster URL of the instance's history front: its tenant's data through the tenants' Query. */
    readonly historyUrl: pulumi.Output<string>;
    /** Thanos query's endpoint for the sidecars' StoreAPI: the SRV records of the headless Service. */
    readonly storeApiEndpoint: pulumi.Output<string>;

    constructor(name: string, args: KubernetesPrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
        super("paas:prometheus:KubernetesPrometheus", name, {}, formerly("paas:prometheus:KubernetesInstance", opts));
        const { instance } = args;
        const child = { parent: this };
        const names = kubernetesPrometheusNames(instance);
        const labels = prometheusPodLabels(instance);
        const metadata = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels });
        const files = renderKubernetesInstanceFiles(args);

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: metadata(names.serviceAccount) }, child);

        // Discovery rights only in the namespaces of the bound apps, never cluster-wide.
        const appNamespaces = [...new Set([...instance.apps, ...(instance.jobs ?? [])].map((target) => target.namespace))].sort();
        for (const appNamespace of appNamespaces) {
            const role = new k8s.rbac.v1.Role(`${name}-discovery-${appNamespace}`, {
                metadata: { name: names.discoveryRole, namespace: appNamespace, labels },
                rules: discoveryRules(kubernetesScrapeJobs(instance)),
            }, child);
            new k8s.rbac.v1.RoleBinding(`${name}-discovery-${appNamespace}`, {
                metadata: { name: names.discoveryRole, namespace: appNamespace, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: args.namespace }],
            }, child);
        }

        const config = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: metadata(names.config), data: { "prometheus.yml.tmpl": files.prometheusYml } }, child);
        const rules = new k8s.core.v1.ConfigMap(`${name}-rules`, { metadata: metadata(names.rules), data: files.ruleFiles }, child);
        // Read by the preStop hook when it runs: a changed script or label set needs no new pod.
        const flush = new k8s.core.v1.ConfigMap(`${name}-flush`, { metadata: metadata(names.flush), data: flushFiles(files.uploadLabels) }, child);
        // Named by the provider (`<name>-objstore-<suffix>`): a new objstore.yml is a new Secret, which rolls the pods (kubernetes/provider.ts).
        // The web config with the password's bcrypt hash, and the password for the pod's own clients (self-scrape,
        // sidecar, readiness probe). A stable hash: an unchanged password leaves the Secret as it is.
        const clientAuth = kubernetesWebClientAuth(instance);
        const password = pulumi.secret(args.password);
        const authFiles = pulumi.all([password, args.thanosNamespace]).apply(([value, thanosNamespace]) =>
            renderInstanceAuthFiles({ instanceName: instance.name, password: value, tenantQueryAddress: tenantQueryAddress(thanosNamespace) }));
        const webAuth = new k8s.core.v1.Secret(`${name}-web`, {
            metadata: metadata(names.webAuth),
            stringData: {
                [webAuthFiles.webConfig]: authFiles.apply((files) => files.webConfig),
                [webAuthFiles.historyFront]: authFiles.apply((files) => files.historyFront),
                [webAuthFiles.password]: password,
                [webAuthFiles.client]: renderClientConfig(clientAuth),
            },
            // Secrets are immutable to the provider (kubernetes/provider.ts): a new password replaces this one under
            // the same name, so the pods keep running and the kubelet refreshes the mounted files.
        }, { ...child, deleteBeforeReplace: true });
        const objstore = new k8s.core.v1.Secret(`${name}-objstore`, {
            metadata: { namespace: args.namespace, labels },
            stringData: { "objstore.yml": pulumi.secret(args.objstoreConfig) },
        }, child);

        const headless = new k8s.core.v1.Service(`${name}-headless`, {
            metadata: metadata(names.headlessService),
            spec: { clusterIP: "None", selector: labels, ports: prometheusServicePorts },
        }, child);
        const service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: metadata(names.service),
            spec: { type: "ClusterIP", selector: labels, ports: prometheusServicePorts },
        }, child);

        // Before the pods: under the namespace's default deny they reach nothing without it.
        const networkPolicy = new k8s.networking.v1.NetworkPolicy(`${name}-network`, {
            metadata: metadata(names.networkPolicy),
            spec: pulumi.output(args.thanosNamespace).apply((thanosNamespace) => prometheusNetworkPolicySpec({ instance, network: args.network, thanosNamespace })),
        }, child);

        // The spec names its ConfigMaps, Secret, ServiceAccount and headless Service: they must exist first.
        new k8s.apps.v1.StatefulSet(`${name}-statefulset`, {
            metadata: metadata(names.statefulSet),
            spec: prometheusStatefulSetSpec(instance, objstore.metadata.name),
        }, { ...child, dependsOn: [serviceAccount, config, rules, flush, objstore, webAuth, headless, networkPolicy] });

        if (instance.replicas > 1) {
            new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
                metadata: metadata(names.statefulSet),
                spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
            }, child);
        }

        this.url = pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc:${prometheusWebPort}`;
        this.historyUrl = pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc:${historyFrontDefaults.httpPort}`;
        this.storeApiEndpoint = pulumi.all([headless.metadata.name, headless.metadata.namespace]).apply(([headlessName, namespace]) => kubernetesStoreApiEndpoint(headlessName, namespace));
        this.registerOutputs({ url: this.url, historyUrl: this.historyUrl, storeApiEndpoint: this.storeApiEndpoint });
    }
}
