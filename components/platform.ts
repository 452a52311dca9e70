/** Builds every component a stack declares; the stack program (components/program.ts) calls this. */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { EcsFoundation } from "./aws/foundation";
import { BrokerDeployment } from "./broker/deployment";
import { planOverrides } from "./config/plan-catalog";
import type { InstanceConfig, StackConfig } from "./config/types";
import { Yace } from "./exporters/ecs";
import { GrafanaDatasources, instanceDatasourcesEntry } from "./grafana/kubernetes";
import { kubernetesProvider } from "./kubernetes/provider";
import { DefaultDeny } from "./kubernetes/default-deny";
import { skipAwaitTransform } from "./kubernetes/workload";
import { EcsPrometheus } from "./prometheus/ecs";
import { KubernetesPrometheus } from "./prometheus/kubernetes";
import { webUsername } from "./prometheus/web-auth";
import { anyPrometheusPodLabels, kubernetesStoreApiEndpoint } from "./prometheus/kubernetes-spec";
import { ThanosBucket } from "./thanos/bucket";
import { EcsThanos } from "./thanos/ecs";
import { ecsTenantQueryAddress } from "./thanos/ecs-spec";
import { KubernetesThanos } from "./thanos/kubernetes";
import { workloadLabels } from "./kubernetes/workload";
import { thanosPorts } from "./thanos/defaults";
import { renderServiceDoc } from "./tsuru/doc";
import { TsuruService } from "./tsuru/service";

export interface Platform {
    readonly bucket: ThanosBucket;
    readonly prometheusUrls: Record<string, pulumi.Output<string>>;
    /** In-cluster URL of each Kubernetes instance's history front (its tenant's data through the tenants' Query). */
    readonly historyUrls: Record<string, pulumi.Output<string>>;
    /** Every instance's web user and password (secret), Kubernetes and ECS. */
    readonly prometheusCredentials: pulumi.Output<Record<string, { username: string; password: string }>>;
    readonly thanosQueryUrl?: pulumi.Output<string>;
    readonly tsuruService?: TsuruService;
    /** In-cluster URL of the broker, when the stack deploys it. */
    readonly brokerUrl?: pulumi.Output<string>;
    /** The AWS ECS half, when the stack has ECS instances or YACE. */
    readonly ecs?: EcsPlatform;
}

export interface EcsPlatform {
    /** Grafana's datasource on ECS: the internal load balancer in front of Thanos query. */
    readonly thanosQueryUrl?: pulumi.Output<string>;
    readonly queryLoadBalancerDnsName?: pulumi.Output<string>;
    /** Cloud Map URL of each ECS instance's Prometheus (inside the VPC). */
    readonly prometheusUrls: Record<string, string>;
    /** Cloud Map URL of each ECS instance's history front. */
    readonly historyUrls: Record<string, string>;
    /** `aws ecs run-task` per instance that copies changed configuration onto EFS (run after `pulumi up`). */
    readonly configUpdateCommands: Record<string, pulumi.Output<string>>;
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

    const passwords = Object.fromEntries(config.instances.map((instance) => [instance.name, instancePassword(config, instance)]));
    const ecs = buildEcs(config, bucket, passwords, awsProvider);
    const servicePassword = config.tsuru !== undefined || config.broker !== undefined ? brokerPassword(config) : undefined;
    const kubernetes = buildKubernetes(config, bucket, passwords, ecs, servicePassword);
    return {
        bucket,
        prometheusUrls: { ...kubernetes?.prometheusUrls },
        historyUrls: { ...kubernetes?.historyUrls },
        prometheusCredentials: pulumi.secret(pulumi.all(config.instances.map((instance) => passwords[instance.name])).apply((values) =>
            Object.fromEntries(config.instances.map((instance, index) => [instance.name, { username: webUsername(instance.name), password: values[index] }])))),
        thanosQueryUrl: kubernetes?.thanosQueryUrl,
        tsuruService: registerTsuruService(config, servicePassword, kubernetes?.brokerUrl),
        brokerUrl: kubernetes?.brokerUrl,
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
function buildEcs(config: StackConfig, bucket: ThanosBucket, passwords: Record<string, pulumi.Output<string>>, provider: aws.Provider | undefined): EcsPlatform | undefined {
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
        mountTargets: fileSystem.mountTargets,
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
        password: passwords[instance.name],
        tenantQueryAddress: ecsTenantQueryAddress(context.namespaceName),
        grafanaCidrs: config.ecs!.queryAllowedCidrs,
    }, opts));
    const thanos = instances.length === 0 ? undefined : new EcsThanos("ecs-thanos", {
        ecs: context,
        thanos: compactorOnlyOn("ecs", config),
        objstoreConfig: bucket.objstoreConfig,
        bucket: thanosBucket,
        sidecars: instances.map((prometheus) => ({ storeApiEndpoint: prometheus.storeApiEndpoint, securityGroupId: prometheus.securityGroupId })),
        queryAllowedCidrs: config.ecs.queryAllowedCidrs,
    }, opts);
    return {
        thanosQueryUrl: thanos?.queryUrl,
        queryLoadBalancerDnsName: thanos?.queryLoadBalancerDnsName,
        prometheusUrls: Object.fromEntries(ecsInstances.map((instance, index) => [instance.name, instances[index].url])),
        historyUrls: Object.fromEntries(ecsInstances.map((instance, index) => [instance.name, instances[index].historyUrl])),
        configUpdateCommands: Object.fromEntries(ecsInstances.map((instance, index) => [instance.name, instances[index].configUpdateCommand])),
    };
}

function buildKubernetes(config: StackConfig, bucket: ThanosBucket, passwords: Record<string, pulumi.Output<string>>, ecs?: EcsPlatform, servicePassword?: pulumi.Output<string>) {
    const kubernetesInstances = config.instances.filter((instance) => instance.platform === "kubernetes");
    if (kubernetesInstances.length === 0 && config.broker === undefined) {
        return undefined;
    }

    const network = config.kubernetes.network;
    if (network === undefined) throw new Error("the stack config has no resolved kubernetes.network (parseStackConfig resolves it for every stack with a Kubernetes half)");
    const provider = kubernetesProvider("kubernetes", config.kubernetes);
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
            password: passwords[instance.name],
            thanosNamespace: namespace,
            network,
        }, opts);
        prometheusUrls[instance.name] = prometheus.url;
        return prometheus;
    });

    const historyUrls = Object.fromEntries(kubernetesInstances.map((instance, index) => [instance.name, instances[index].historyUrl]));

    const brokerInstances = config.broker && brokerInstancesNamespace(config, namespace, opts);
    new DefaultDeny("default-deny", { namespaces: { instances: namespace, ...(brokerInstances?.separate ? { "broker-instances": brokerInstances.namespace } : {}) } }, opts);
    const thanos = new KubernetesThanos("thanos", {
        namespace,
        thanos: compactorOnlyOn("kubernetes", config),
        objstoreConfig: bucket.objstoreConfig,
        sidecarStoreApiEndpoints: [...instances.map((prometheus) => prometheus.storeApiEndpoint), ...(brokerInstances ? [brokerInstances.sidecars] : [])],
        network,
        instanceNamespaces: [namespace, ...(brokerInstances ? [brokerInstances.namespace] : [])],
    }, opts);
    // Where the broker's instances put their datasources: only where the platform provisions its own.
    const brokerGrafanaNamespace = config.grafana.datasources ? config.grafana.namespace : undefined;
    const brokerUrl = config.broker && new BrokerDeployment("broker", {
        broker: config.broker,
        namespace: config.broker.namespace ?? namespace,
        settings: namespace.apply((thanosNamespace) => ({
            environment: config.environment,
            region: config.region,
            product: config.product,
            namespace: config.broker!.instanceNamespace,
            replicaLabel: config.thanos.replicaLabel,
            alertmanagers: config.alertmanagers,
            plans: planOverrides(config.plans),
            thanosNamespace,
            network,
            grafanaNamespace: brokerGrafanaNamespace,
            grafanaOrgs: config.grafana.orgs,
            poolNamespaces: config.broker!.poolNamespaces,
            poolPlans: config.broker!.poolPlans,
        })),
        username: config.tsuru?.username ?? config.tsuru?.serviceId ?? "prometheus",
        password: servicePassword!,
        backendPassphrase: config.brokerBackendPassphrase!,
        objstoreConfig: bucket.objstoreConfig,
        grafanaNamespace: brokerGrafanaNamespace,
        network,
    }, opts).url;

    if (config.grafana.datasources) {
        new GrafanaDatasources("grafana", {
            namespace: config.grafana.namespace,
            datasources: {
                thanos: thanos.queryUrl.apply((url) => [{ name: `Thanos (${config.environment})`, url, flavor: "Thanos" as const, isDefault: true }]),
                // Reached over VPC peering: Query through the internal load balancer, the instances by Cloud Map names.
                ...(ecs?.thanosQueryUrl ? { "thanos-ecs": ecs.thanosQueryUrl.apply((url) => [{ name: `Thanos ECS (${config.environment})`, url, flavor: "Thanos" as const }]) } : {}),
                ...Object.fromEntries(config.instances.map((instance) => {
                    const urls = instance.platform === "kubernetes"
                        ? { prometheusUrl: prometheusUrls[instance.name], historyUrl: historyUrls[instance.name] }
                        : { prometheusUrl: ecs!.prometheusUrls[instance.name], historyUrl: ecs!.historyUrls[instance.name] };
                    return [`prometheus-${instance.name}`, instanceDatasourcesEntry({
                        instanceName: instance.name, environment: config.environment, ...urls, password: passwords[instance.name], orgId: config.grafana.orgs[instance.team],
                    })];
                })),
            },
        }, opts);
    }
    return { prometheusUrls, historyUrls, thanosQueryUrl: thanos.queryUrl, brokerUrl };
}

/**
 * The broker's instances live in their own namespace (created here unless it is the stack's); one headless Service
 * there selects every instance's Prometheus pod, so the platform's Thanos query finds each new sidecar by DNS
 * without a platform update.
 */
function brokerInstancesNamespace(config: StackConfig, platformNamespace: pulumi.Output<string>, opts: pulumi.CustomResourceOptions) {
    const instanceNamespace = config.broker!.instanceNamespace;
    const separate = instanceNamespace !== config.kubernetes.namespace;
    const namespace = separate
        ? new k8s.core.v1.Namespace("broker-instances-namespace", { metadata: { name: instanceNamespace } }, opts).metadata.name
        : platformNamespace;
    // Every instance's pods, whatever the instance: the broker's stacks come and go without a platform update.
    const service = new k8s.core.v1.Service("broker-instances-sidecars", {
        metadata: { name: "prometheus-sidecars", namespace, labels: workloadLabels("thanos", "sidecars", "broker-instances") },
        spec: { clusterIP: "None", selector: anyPrometheusPodLabels(), ports: [{ name: "grpc", port: thanosPorts.grpc, targetPort: "grpc" }] },
    }, opts);
    const sidecars = pulumi.all([service.metadata.name, service.metadata.namespace]).apply(([name, ns]) => kubernetesStoreApiEndpoint(name, ns));
    return { namespace, separate, sidecars };
}

/** An instance's web password: the stack's (instancePasswords), or a generated one kept in the state. */
function instancePassword(config: StackConfig, instance: InstanceConfig): pulumi.Output<string> {
    const configured = config.instancePasswords?.[instance.name];
    return configured !== undefined
        ? pulumi.secret(pulumi.output(configured))
        : new random.RandomPassword(`prometheus-${instance.name}-password`, { length: 32, special: false }).result;
}

/** The password Tsuru presents to the broker: the stack's, or a generated one. */
function brokerPassword(config: StackConfig): pulumi.Output<string> {
    return config.tsuruServicePassword !== undefined
        ? pulumi.secret(pulumi.output(config.tsuruServicePassword))
        : new random.RandomPassword("tsuru-service-password", { length: 32, special: false }).result;
}

/** Registers the service with the stack's Tsuru API; the password is generated unless the stack sets one. */
function registerTsuruService(config: StackConfig, password: pulumi.Output<string> | undefined, brokerUrl: pulumi.Output<string> | undefined): TsuruService | undefined {
    const tsuru = config.tsuru;
    if (tsuru === undefined || password === undefined) {
        return undefined;
    }
    // Endpoints per cluster: the broker deployed here answers for its own cluster.
    const configured = typeof tsuru.endpoints === "string" ? { production: tsuru.endpoints } : tsuru.endpoints;
    const endpoints = brokerUrl && config.broker ? { ...configured, [config.broker.cluster]: brokerUrl } : tsuru.endpoints!;
    return new TsuruService("tsuru-service", {
        apiUrl: tsuru.apiUrl,
        serviceId: tsuru.serviceId,
        team: tsuru.team,
        endpoints,
        multiCluster: tsuru.multiCluster,
        encoding: tsuru.encoding,
        username: tsuru.username,
        password,
        documentation: tsuru.documentation ?? renderServiceDoc(tsuru.serviceId, config.plans),
        adopt: tsuru.adopt,
    });
}
