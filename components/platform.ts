/** Builds every component a stack declares; index.ts and the broker both call this. */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { EcsFoundation } from "./aws/foundation";
import type { StackConfig } from "./config";
import { Yace } from "./exporters/ecs";
import { GrafanaDatasources } from "./grafana/kubernetes";
import { skipAwaitTransform } from "./kubernetes/workload";
import { EcsPrometheus } from "./prometheus/ecs";
import { KubernetesPrometheus } from "./prometheus/kubernetes";
import { ThanosBucket } from "./thanos/bucket";
import { EcsThanos } from "./thanos/ecs";
import { KubernetesThanos } from "./thanos/kubernetes";
import { renderServiceDoc } from "./tsuru/doc";
import { TsuruService } from "./tsuru/service";

export interface Platform {
    readonly bucket: ThanosBucket;
    readonly prometheusUrls: Record<string, pulumi.Output<string>>;
    readonly thanosQueryUrl?: pulumi.Output<string>;
    readonly tsuruService?: TsuruService;
    /** The AWS ECS half, when the stack has ECS instances or YACE. */
    readonly ecs?: EcsPlatform;
}

export interface EcsPlatform {
    /** Grafana's datasource on ECS: the internal load balancer in front of Thanos query. */
    readonly thanosQueryUrl?: pulumi.Output<string>;
    readonly queryLoadBalancerDnsName?: pulumi.Output<string>;
    /** Cloud Map URL of each ECS instance's Prometheus (inside the VPC). */
    readonly prometheusUrls: Record<string, string>;
    /** `aws ecs run-task` per instance that copies changed configuration onto EFS (run after `pulumi up`). */
    readonly configUpdateCommands: Record<string, pulumi.Output<string>>;
}

function kubernetesProvider(config: StackConfig): k8s.Provider {
    const target = config.kubernetes;
    return new k8s.Provider("kubernetes", {
        kubeconfig: target.kubeconfig,
        context: target.context,
        renderYamlToDirectory: target.renderYamlToDirectory,
        // The Thanos sidecar reloads prometheus.yml and the rules from their ConfigMaps, so a binding must change
        // them in place. By default the provider replaces a ConfigMap whose data changed: with our fixed names that
        // fails on a real API server (server-side apply conflict with the old object's field manager).
        enableConfigMapMutable: true,
    });
}

export function buildPlatform(config: StackConfig): Platform {
    // Only stacks that create AWS resources need the AWS provider plugin (it cannot be built offline).
    const awsProvider = config.bucket.type === "s3" || usesEcs(config) ? new aws.Provider("aws", { region: config.region as aws.Region }) : undefined;
    const bucket = new ThanosBucket("thanos-bucket", {
        bucket: config.bucket,
        region: config.region,
        compactor: config.thanos.compactor,
        credentials: config.bucketCredentials,
    }, { provider: awsProvider });

    const ecs = buildEcs(config, bucket, awsProvider);
    const kubernetes = buildKubernetes(config, bucket, ecs?.thanosQueryUrl);
    return {
        bucket,
        prometheusUrls: { ...kubernetes?.prometheusUrls },
        thanosQueryUrl: kubernetes?.thanosQueryUrl,
        tsuruService: registerTsuruService(config),
        ecs,
    };
}

/** Thanos settings for one platform: the compactor is parked (0 replicas) unless it runs there. */
function compactorOnlyOn(platform: "kubernetes" | "ecs", config: StackConfig): StackConfig["thanos"] {
    const { compactor } = config.thanos;
    return compactor.platform === platform ? config.thanos : { ...config.thanos, compactor: { ...compactor, replicas: 0 } };
}

function usesEcs(config: StackConfig): boolean {
    return config.ecs !== undefined && (config.yace !== undefined || config.instances.some((instance) => instance.platform === "ecs"));
}

/** The AWS half: one foundation (cluster, network, Cloud Map, config bucket, EFS), YACE, ECS instances and their Thanos. */
function buildEcs(config: StackConfig, bucket: ThanosBucket, provider: aws.Provider | undefined): EcsPlatform | undefined {
    if (config.ecs === undefined || !usesEcs(config)) {
        return undefined;
    }
    const opts = { provider };
    const ecsInstances = config.instances.filter((instance) => instance.platform === "ecs");
    const directoryOf = (instanceName: string) => `prometheus-${instanceName}`;
    const foundation = new EcsFoundation("ecs", {
        ecs: config.ecs,
        environment: config.environment,
        region: config.region,
        efsDirectories: [...ecsInstances.map((instance) => directoryOf(instance.name)), ...(config.yace ? ["yace"] : [])],
    }, opts);
    const { context, fileSystem } = foundation;
    const mount = (directory: string) => ({
        fileSystemId: fileSystem.fileSystemId,
        fileSystemArn: fileSystem.fileSystemArn,
        securityGroupId: fileSystem.securityGroupId,
        accessPointId: fileSystem.accessPoints[directory].id,
        accessPointArn: fileSystem.accessPoints[directory].arn,
    });

    const yace = config.yace && new Yace("yace", { ecs: context, efs: mount("yace"), yace: config.yace }, opts);
    // An existing bucket on AWS S3 has no ARN output: build it from the name.
    const thanosBucket = {
        arn: bucket.arn ?? pulumi.interpolate`arn:${context.partition}:s3:::${bucket.bucketName}`,
        kmsKeyArn: config.bucket.type === "s3" ? config.bucket.kmsKeyArn : undefined,
    };
    const labels = { environment: config.environment, region: config.region, product: config.product, replicaLabel: config.thanos.replicaLabel };
    const instances = ecsInstances.map((instance) => new EcsPrometheus(`ecs-prometheus-${instance.name}`, {
        instance,
        labels,
        alertmanagers: config.ecs!.alertmanagers ?? config.alertmanagers,
        ecs: context,
        efs: mount(directoryOf(instance.name)),
        objstoreConfig: bucket.objstoreConfig,
        thanosBucket,
        exporters: yace && config.yace!.scrapedBy.includes(instance.name)
            ? [{ jobName: yace.jobName, host: yace.host, port: yace.port, securityGroupId: yace.securityGroupId }]
            : [],
    }, opts));
    const thanos = instances.length === 0 ? undefined : new EcsThanos("ecs-thanos", {
        ecs: context,
        thanos: compactorOnlyOn("ecs", config),
        objstoreConfig: bucket.objstoreConfig,
        bucket: thanosBucket,
        sidecars: instances.map((prometheus) => ({ endpoint: prometheus.storeEndpoint, securityGroupId: prometheus.securityGroupId })),
        queryAllowedCidrs: config.ecs.queryAllowedCidrs,
    }, opts);
    return {
        thanosQueryUrl: thanos?.queryUrl,
        queryLoadBalancerDnsName: thanos?.queryLoadBalancerDnsName,
        prometheusUrls: Object.fromEntries(ecsInstances.map((instance, index) => [instance.name, instances[index].url])),
        configUpdateCommands: Object.fromEntries(ecsInstances.map((instance, index) => [instance.name, instances[index].configUpdateCommand])),
    };
}

function buildKubernetes(config: StackConfig, bucket: ThanosBucket, ecsThanosQueryUrl?: pulumi.Output<string>) {
    const kubernetesInstances = config.instances.filter((instance) => instance.platform === "kubernetes");
    if (kubernetesInstances.length === 0) {
        return undefined;
    }

    const provider = kubernetesProvider(config);
    const opts = { provider, transforms: config.kubernetes.skipAwait ? [skipAwaitTransform] : undefined };
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
        thanos: compactorOnlyOn("kubernetes", config),
        objstoreConfig: bucket.objstoreConfig,
        sidecarServices: instances.map((prometheus) => prometheus.storeApiService),
    }, opts);

    if (config.grafana.datasources) {
        new GrafanaDatasources("grafana", {
            namespace: config.grafana.namespace,
            datasources: {
                thanos: thanos.queryUrl.apply((url) => ({ name: `Thanos (${config.environment})`, url, flavor: "Thanos" as const, isDefault: true })),
                // Reached over VPC peering through the internal load balancer.
                ...(ecsThanosQueryUrl ? { "thanos-ecs": ecsThanosQueryUrl.apply((url) => ({ name: `Thanos ECS (${config.environment})`, url, flavor: "Thanos" as const })) } : {}),
                ...Object.fromEntries(kubernetesInstances.map((instance) => [
                    `prometheus-${instance.name}`,
                    prometheusUrls[instance.name].apply((url) => ({ name: `Prometheus ${instance.name} (${config.environment})`, url, flavor: "Prometheus" as const })),
                ])),
            },
        }, opts);
    }
    return { prometheusUrls, thanosQueryUrl: thanos.queryUrl };
}

/** Registers the service with the stack's Tsuru API; the password is generated unless the stack sets one. */
function registerTsuruService(config: StackConfig): TsuruService | undefined {
    const tsuru = config.tsuru;
    if (tsuru === undefined) {
        return undefined;
    }
    const password = config.tsuruServicePassword !== undefined
        ? pulumi.secret(config.tsuruServicePassword)
        : new random.RandomPassword("tsuru-service-password", { length: 32, special: false }).result;
    return new TsuruService("tsuru-service", {
        apiUrl: tsuru.apiUrl,
        serviceId: tsuru.serviceId,
        team: tsuru.team,
        endpoints: tsuru.endpoints,
        multiCluster: tsuru.multiCluster,
        encoding: tsuru.encoding,
        username: tsuru.username,
        password,
        documentation: tsuru.documentation ?? renderServiceDoc(tsuru.serviceId, config.plans),
        adopt: tsuru.adopt,
    });
}
