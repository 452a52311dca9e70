/**
 * The program of one broker instance stack (`instance-<name>`): that instance's Prometheus and Thanos sidecar,
 * built by the same KubernetesPrometheus the platform stacks use, from the record in the stack's config.
 * Thanos store, query, compactor and the bucket stay in the platform stack: the sidecar uploads to the shared
 * bucket (objstore.yml from the broker) and the platform's Thanos query finds it through the sidecar Service
 * the platform stack keeps in the instances' namespace.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { instanceFromRecord, loadInstancePassword, loadInstanceRecord } from "./broker/record";
import { BrokerSettings } from "./broker/settings";
import { kubernetesProvider } from "./kubernetes/provider";
import { skipAwaitTransform } from "./kubernetes/workload";
import { GrafanaDatasources, instanceDatasourcesEntry } from "./grafana/kubernetes";
import { KubernetesPrometheus } from "./prometheus/kubernetes";

/** Where an instance stack's Kubernetes objects go: rendered to a folder per instance, or a real cluster. */
export type InstanceTarget =
    | { readonly kind: "render"; readonly directory: string }
    | { readonly kind: "kubernetes"; readonly kubeconfig?: string; readonly context?: string };

export interface InstanceProgramArgs {
    readonly name: string;
    readonly settings: BrokerSettings;
    readonly target: InstanceTarget;
    /** objstore.yml of the shared bucket (the platform's), kept secret in the instance's state. */
    readonly objstoreConfig: string;
}

/** The render folder of one instance. */
export function instanceRenderDirectory(target: InstanceTarget & { kind: "render" }, name: string): string {
    return path.join(target.directory, name);
}

export function instanceProgram(args: InstanceProgramArgs) {
    const record = loadInstanceRecord();
    const instance = instanceFromRecord(args.name, record, args.settings);
    const { settings, target } = args;
    const provider = kubernetesProvider("kubernetes", target.kind === "render"
        ? { renderYamlToDirectory: instanceRenderDirectory(target, args.name) }
        : { kubeconfig: target.kubeconfig, context: target.context });
    const options = { provider, transforms: settings.skipAwait ? [skipAwaitTransform] : undefined };
    const password = pulumi.secret(loadInstancePassword());
    const prometheus = new KubernetesPrometheus(`prometheus-${instance.name}`, {
        instance,
        namespace: settings.namespace,
        labels: { environment: settings.environment, region: settings.region, product: settings.product, replicaLabel: settings.replicaLabel },
        alertmanagers: settings.alertmanagers,
        objstoreConfig: pulumi.secret(args.objstoreConfig),
        password,
        thanosNamespace: settings.thanosNamespace,
        network: settings.network,
    }, options);
    if (settings.grafanaNamespace !== undefined) {
        new GrafanaDatasources("grafana", {
            namespace: settings.grafanaNamespace,
            datasources: {
                [`tsuru-${instance.name}`]: instanceDatasourcesEntry({
                    instanceName: instance.name, environment: settings.environment, prometheusUrl: prometheus.url, historyUrl: prometheus.historyUrl, password, orgId: settings.grafanaOrgs[instance.team],
                }),
            },
        }, options);
    }
    return {
        prometheusUrl: prometheus.url,
        historyUrl: prometheus.historyUrl,
        storeApiEndpoint: prometheus.storeApiEndpoint,
        plan: instance.plan.name,
        generation: record.generation,
    };
}
