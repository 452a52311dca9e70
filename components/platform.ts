/** Builds every component a stack declares; index.ts and the broker both call this. */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { GrafanaDatasources } from "./grafana/kubernetes";
import { KubernetesPrometheus } from "./prometheus/kubernetes";
import { ThanosBucket } from "./thanos/bucket";
import { KubernetesThanos } from "./thanos/kubernetes";

export interface Platform {
    readonly bucket: ThanosBucket;
    readonly prometheusUrls: Record<string, pulumi.Output<string>>;
    readonly thanosQueryUrl?: pulumi.Output<string>;
}

function kubernetesProvider(config: StackConfig): k8s.Provider {
    const target = config.kubernetes;
    return new k8s.Provider("kubernetes", {
        kubeconfig: target.kubeconfig,
        context: target.context,
        renderYamlToDirectory: target.renderYamlToDirectory,
    });
}

export function buildPlatform(config: StackConfig): Platform {
    // Only stacks that create AWS resources need the AWS provider plugin (it cannot be built offline).
    const awsProvider = config.bucket.type === "s3" ? new aws.Provider("aws", { region: config.region as aws.Region }) : undefined;
    const bucket = new ThanosBucket("thanos-bucket", {
        bucket: config.bucket,
        region: config.region,
        compactor: config.thanos.compactor,
        credentials: config.bucketCredentials,
    }, { provider: awsProvider });

    const kubernetesInstances = config.instances.filter((instance) => instance.platform === "kubernetes");
    if (kubernetesInstances.length === 0) {
        return { bucket, prometheusUrls: {} };
    }

    const provider = kubernetesProvider(config);
    const opts = { provider };
    const namespace = config.kubernetes.createNamespace
        ? new k8s.core.v1.Namespace("namespace", { metadata: { name: config.kubernetes.namespace } }, opts).metadata.name
        : pulumi.output(config.kubernetes.namespace);
    const labels = { environment: config.environment, region: config.region, product: config.product, replicaLabel: config.thanos.replicaLabel };

    const prometheusUrls: Record<string, pulumi.Output<string>> = {};
    const instances = kubernetesInstances.map((instance) => {
        const prometheus = new KubernetesPrometheus(`prometheus-${instance.name}`, {
            instance,
            namespace,
            labels,
            alertmanagers: config.alertmanagers,
            objstoreConfig: bucket.objstoreConfig,
        }, opts);
        prometheusUrls[instance.name] = prometheus.url;
        return prometheus;
    });

    const thanos = new KubernetesThanos("thanos", {
        namespace,
        thanos: config.thanos,
        objstoreConfig: bucket.objstoreConfig,
        sidecarServices: instances.map((prometheus) => prometheus.storeApiService),
    }, opts);

    if (config.grafana.datasources) {
        new GrafanaDatasources("grafana", {
            namespace: config.grafana.namespace,
            datasources: {
                thanos: thanos.queryUrl.apply((url) => ({ name: `Thanos (${config.environment})`, url, flavor: "Thanos" as const, isDefault: true })),
                ...Object.fromEntries(kubernetesInstances.map((instance) => [
                    `prometheus-${instance.name}`,
                    prometheusUrls[instance.name].apply((url) => ({ name: `Prometheus ${instance.name} (${config.environment})`, url, flavor: "Prometheus" as const })),
                ])),
            },
        }, opts);
    }
    return { bucket, prometheusUrls, thanosQueryUrl: thanos.queryUrl };
}
