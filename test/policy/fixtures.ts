/**
 * Realistic resources for the policy tests, shaped like what components/ registers (Kubernetes) and like the
 * AWS provider schema for ECS, EFS, IAM, load balancing and logs. Each builder returns a compliant resource;
 * tests derive violating ones with `edit`.
 */
import * as yaml from "js-yaml";
import { ecsTasksTrustPolicy, policyDocument } from "../../components/aws/iam";
import { thanosBucketStatements, ThanosComponent } from "../../components/thanos/iam";
import { fixture, FixtureOptions, HarnessResource } from "../support/policy-harness";

export const images = {
    prometheus: "quay.io/prometheus/prometheus:v3.16.0",
    thanos: "quay.io/thanos/thanos:v0.42.5",
    busybox: "public.ecr.aws/docker/library/busybox:1.37.0",
    yace: "quay.io/prometheuscommunity/yet-another-cloudwatch-exporter:v0.62.1",
};

/** A deep copy of a resource with its inputs (and outputs) changed by `change`. */
export function edit(resource: HarnessResource, change: (inputs: Record<string, any>) => void): HarnessResource {
    const inputs = structuredClone(resource.inputs);
    change(inputs);
    const computed = Object.fromEntries(Object.entries(resource.outputs).filter(([key]) => !(key in resource.inputs)));
    return { ...resource, inputs, outputs: { ...inputs, ...computed } };
}

const nonRootPod = { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } };
const nonRootContainer = { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } };

export function prometheusArgs(overrides: { retentionSize?: string | null; blocks?: string | null; lifecycle?: boolean; tsdbPath?: string; webConfig?: string | null; adminApi?: boolean } = {}): string[] {
    const args = [
        "--config.file=/etc/prometheus/config_out/prometheus.yml",
        `--storage.tsdb.path=${overrides.tsdbPath ?? "/prometheus"}`,
        "--storage.tsdb.retention.time=12h",
    ];
    if (overrides.retentionSize !== null) args.push(`--storage.tsdb.retention.size=${overrides.retentionSize ?? "384MB"}`);
    if (overrides.blocks !== null) args.push(`--storage.tsdb.min-block-duration=${overrides.blocks ?? "2h"}`, `--storage.tsdb.max-block-duration=${overrides.blocks ?? "2h"}`);
    if (overrides.lifecycle !== false) args.push("--web.enable-lifecycle");
    if (overrides.adminApi !== false) args.push("--web.enable-admin-api");
    if (overrides.webConfig !== null) args.push(`--web.config.file=${overrides.webConfig ?? "/etc/prometheus/web/web.yml"}`);
    args.push("--web.listen-address=0.0.0.0:9090");
    return args;
}

export const sidecarArgs = [
    "sidecar",
    "--log.format=logfmt",
    "--tsdb.path=/prometheus",
    "--prometheus.url=http://localhost:9090",
    "--objstore.config-file=/etc/thanos/objstore.yml",
    "--reloader.config-file=/etc/prometheus/config/prometheus.yml.tmpl",
    "--reloader.config-envsubst-file=/etc/prometheus/config_out/prometheus.yml",
    "--reloader.rule-dir=/etc/prometheus/rules",
    "--grpc-address=0.0.0.0:10901",
    "--http-address=0.0.0.0:10902",
];

function labels(component: string, instance: string) {
    return { "app.kubernetes.io/name": component === "prometheus" ? "prometheus" : "thanos", "app.kubernetes.io/component": component, "app.kubernetes.io/instance": instance, "app.kubernetes.io/part-of": "prometheus-paas" };
}

/** The instance component every per-instance child hangs under. */
export function instanceComponent(instance: string): HarnessResource {
    return fixture("paas:prometheus:KubernetesPrometheus", `prometheus-${instance}`, {}, { custom: false });
}

/** Prometheus StatefulSet as KubernetesPrometheus registers it: tmpfs TSDB, Thanos sidecar, non-root. */
export function prometheusStatefulSet(instance = "payments", options: FixtureOptions = {}): HarnessResource {
    const podLabels = labels("prometheus", instance);
    return fixture("kubernetes:apps/v1:StatefulSet", `prometheus-${instance}-statefulset`, {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: `prometheus-${instance}`, namespace: "prometheus", labels: podLabels },
        spec: {
            serviceName: `prometheus-${instance}-headless`,
            replicas: 2,
            podManagementPolicy: "Parallel",
            selector: { matchLabels: podLabels },
            template: {
                metadata: { labels: podLabels },
                spec: {
                    serviceAccountName: `prometheus-${instance}`,
                    securityContext: nonRootPod,
                    terminationGracePeriodSeconds: 50,
                    initContainers: [{
                        name: "config-init",
                        image: images.busybox,
                        command: ["sh", "-c", 'sed "s/[$](POD_NAME)/${POD_NAME}/g" /etc/prometheus/config/prometheus.yml.tmpl > /etc/prometheus/config_out/prometheus.yml'],
                        env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } },
                        securityContext: nonRootContainer,
                        volumeMounts: [{ name: "config", mountPath: "/etc/prometheus/config", readOnly: true }, { name: "config-out", mountPath: "/etc/prometheus/config_out" }],
                    }],
                    containers: [
                        {
                            name: "prometheus",
                            image: images.prometheus,
                            args: prometheusArgs(),
                            lifecycle: { preStop: { exec: { command: ["sh", "/etc/prometheus/flush/flush.sh", "--url=http://localhost:9090", "--tsdb=/prometheus", "--deadline=20"] } } },
                            ports: [{ name: "web", containerPort: 9090 }],
                            resources: { requests: { cpu: "250m", memory: "1536Mi" }, limits: { memory: "1536Mi" } },
                            securityContext: nonRootContainer,
                            volumeMounts: [
                                { name: "tsdb", mountPath: "/prometheus" },
                                { name: "config-out", mountPath: "/etc/prometheus/config_out", readOnly: true },
                                { name: "rules", mountPath: "/etc/prometheus/rules", readOnly: true },
                                { name: "web", mountPath: "/etc/prometheus/web", readOnly: true },
                            ],
                        },
                        {
                            name: "thanos-sidecar",
                            image: images.thanos,
                            args: sidecarArgs,
                            env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                            ports: [{ name: "grpc", containerPort: 10901 }, { name: "sidecar-http", containerPort: 10902 }],
                            resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                            securityContext: nonRootContainer,
                            volumeMounts: [
                                { name: "tsdb", mountPath: "/prometheus" },
                                { name: "config", mountPath: "/etc/prometheus/config", readOnly: true },
                                { name: "config-out", mountPath: "/etc/prometheus/config_out" },
                                { name: "objstore", mountPath: "/etc/thanos", readOnly: true },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "tsdb", emptyDir: { medium: "Memory", sizeLimit: "512Mi" } },
                        { name: "config", configMap: { name: `prometheus-${instance}-config` } },
                        { name: "config-out", emptyDir: { sizeLimit: "8Mi" } },
                        { name: "rules", configMap: { name: `prometheus-${instance}-rules` } },
                        { name: "objstore", secret: { secretName: `prometheus-${instance}-objstore` } },
                        { name: "web", secret: { secretName: `prometheus-${instance}-web` } },
                    ],
                },
            },
        },
    }, { parent: instanceComponent(instance), ...options });
}

/** The prometheus container of a StatefulSet fixture, for edits. */
export function prometheusContainer(inputs: Record<string, any>): Record<string, any> {
    return inputs.spec.template.spec.containers.find((c: any) => c.name === "prometheus");
}

export function tsdbVolume(inputs: Record<string, any>): Record<string, any> {
    return inputs.spec.template.spec.volumes.find((v: any) => v.name === "tsdb");
}

/** A prometheus.yml like renderPrometheusConfig's; null renders none. */
export function renderPrometheusYml(externalLabels: Record<string, string> | null): string {
    const document: Record<string, unknown> = {
        global: { scrape_interval: "30s", evaluation_interval: "30s", ...(externalLabels === null ? {} : { external_labels: externalLabels }) },
        rule_files: ["/etc/prometheus/rules/*.yml"],
        scrape_configs: [{ job_name: "prometheus", static_configs: [{ targets: ["localhost:9090"] }] }],
    };
    return yaml.dump(document, { lineWidth: -1 });
}

export function platformLabels(instance: string, team = instance): Record<string, string> {
    return { environment: "dev", region: "us-east-1", product: "tsuru", tenant: instance, team, prometheus_replica: "$(POD_NAME)" };
}

export function prometheusConfigMap(instance = "payments", externalLabels: Record<string, string> | null = platformLabels(instance), options: FixtureOptions = {}): HarnessResource {
    return fixture("kubernetes:core/v1:ConfigMap", `prometheus-${instance}-config`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `prometheus-${instance}-config`, namespace: "prometheus", labels: labels("prometheus", instance) },
        data: { "prometheus.yml.tmpl": renderPrometheusYml(externalLabels) },
    }, { parent: instanceComponent(instance), ...options });
}

export function objstoreYml(bucket: string, credentials?: { accessKey: string; secretKey: string }): string {
    const config: Record<string, unknown> = { bucket, endpoint: "s3.us-east-1.amazonaws.com", region: "us-east-1", insecure: false };
    if (credentials) Object.assign(config, { access_key: credentials.accessKey, secret_key: credentials.secretKey });
    else config.aws_sdk_auth = true;
    return yaml.dump({ type: "S3", config, prefix: "" });
}

export function objstoreSecret(name = "thanos-objstore", bucket = "thanos-dev"): HarnessResource {
    return fixture("kubernetes:core/v1:Secret", name, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: "prometheus" },
        stringData: { "objstore.yml": objstoreYml(bucket) },
    }, { secretPaths: ["stringData"] });
}

export const compactorArgs = [
    "compact",
    "--log.format=logfmt",
    "--wait",
    "--data-dir=/var/thanos",
    "--objstore.config-file=/etc/thanos/objstore.yml",
    "--http-address=0.0.0.0:10902",
    "--consistency-delay=30m",
    "--retention.resolution-raw=30d",
    "--retention.resolution-5m=90d",
    "--retention.resolution-1h=1y",
    "--delete-delay=48h",
    "--deduplication.replica-label=prometheus_replica",
    "--deduplication.func=penalty",
];

/** Thanos compactor as KubernetesThanos registers it, reading objstore.yml from the Secret `secretName`. */
export function compactorStatefulSet(name = "thanos-compactor", secretName = "thanos-objstore", replicas: unknown = 1): HarnessResource {
    const podLabels = labels("compactor", "thanos");
    return fixture("kubernetes:apps/v1:StatefulSet", `${name}-statefulset`, {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name, namespace: "prometheus", labels: podLabels },
        spec: {
            serviceName: name,
            replicas,
            selector: { matchLabels: podLabels },
            template: {
                metadata: { labels: podLabels },
                spec: {
                    serviceAccountName: "thanos",
                    securityContext: nonRootPod,
                    containers: [{
                        name: "compactor",
                        image: images.thanos,
                        args: compactorArgs,
                        resources: { requests: { cpu: "100m", memory: "1Gi" }, limits: { memory: "1Gi" } },
                        securityContext: nonRootContainer,
                        volumeMounts: [{ name: "objstore", mountPath: "/etc/thanos", readOnly: true }, { name: "data", mountPath: "/var/thanos" }],
                    }],
                    volumes: [{ name: "objstore", secret: { secretName } }, { name: "data", emptyDir: { sizeLimit: "20Gi" } }],
                },
            },
        },
    });
}

export function queryDeployment(replicaLabel = "prometheus_replica"): HarnessResource {
    const podLabels = labels("query", "thanos");
    return fixture("kubernetes:apps/v1:Deployment", "thanos-query", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "thanos-query", namespace: "prometheus", labels: podLabels },
        spec: {
            replicas: 2,
            selector: { matchLabels: podLabels },
            template: {
                metadata: { labels: podLabels },
                spec: {
                    securityContext: nonRootPod,
                    automountServiceAccountToken: false,
                    containers: [{
                        name: "query",
                        image: images.thanos,
                        args: ["query", "--http-address=0.0.0.0:9090", "--grpc-address=0.0.0.0:10901", `--query.replica-label=${replicaLabel}`, "--query.auto-downsampling", "--endpoint=dnssrv+_grpc._tcp.thanos-store.prometheus.svc.cluster.local"],
                        resources: { requests: { cpu: "100m", memory: "512Mi" }, limits: { memory: "512Mi" } },
                        securityContext: nonRootContainer,
                    }],
                },
            },
        },
    });
}

export function kubernetesService(name: string, spec: Record<string, any>, annotations?: Record<string, string>): HarnessResource {
    return fixture("kubernetes:core/v1:Service", name, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: "prometheus", ...(annotations ? { annotations } : {}) },
        spec,
    });
}

// ------------------------------------------------------------------------------------------------- S3

export interface BucketSet {
    readonly bucket: HarnessResource;
    readonly encryption: HarnessResource;
    readonly publicAccessBlock: HarnessResource;
    readonly policy: HarnessResource;
    readonly lifecycle: HarnessResource;
    readonly all: HarnessResource[];
}

/** A bucket as ThanosBucket creates it, its companions linked through their `bucket` property. */
export function bucketSet(name = "thanos-dev", options: { linkBy?: "value" | "dependency" } = {}): BucketSet {
    const arn = `arn:aws:s3:::${name}`;
    const parent = fixture("paas:thanos:ThanosBucket", "thanos-bucket", {}, { custom: false });
    const bucket = fixture("aws:s3/bucket:Bucket", "thanos-bucket", { bucket: name, forceDestroy: false, tags: { "paas.tsuru.io/purpose": "thanos-long-term-storage" } }, {
        parent,
        outputs: { bucket: name, arn, forceDestroy: false },
    });
    const byDependency = options.linkBy === "dependency";
    const link = (extra: Record<string, readonly HarnessResource[]> = {}): FixtureOptions => ({ parent, propertyDependencies: byDependency ? { bucket: [bucket], ...extra } : extra });
    const bucketId = byDependency ? "thanos-bucket-id" : name;
    const encryption = fixture("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "thanos-bucket-encryption", {
        bucket: bucketId,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: "arn:aws:kms:us-east-1:111122223333:key/5f3c0a9e" }, bucketKeyEnabled: true }],
    }, link());
    const publicAccessBlock = fixture("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "thanos-bucket-public-access", {
        bucket: bucketId,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
    }, link());
    const policy = fixture("aws:s3/bucketPolicy:BucketPolicy", "thanos-bucket-tls-only", {
        bucket: bucketId,
        policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*", Resource: [arn, `${arn}/*`], Condition: { Bool: { "aws:SecureTransport": "false" } } }],
        }),
    }, link({ policy: [bucket] }));
    const lifecycle = fixture("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "thanos-bucket-lifecycle", {
        bucket: bucketId,
        rules: [
            { id: "abort-incomplete-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
            { id: "expire-past-thanos-retention", status: "Enabled", filter: {}, expiration: { days: 374 } },
        ],
    }, link());
    return { bucket, encryption, publicAccessBlock, policy, lifecycle, all: [parent, bucket, encryption, publicAccessBlock, policy, lifecycle] };
}

// ------------------------------------------------------------------------------------------------ ECS

const logConfiguration = (group: string) => ({ logDriver: "awslogs", options: { "awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs" } });

/** Prometheus + sidecar task on EC2: TSDB on a tmpfs, config from EFS over TLS. */
export function ecsPrometheusTask(family = "prometheus-payments"): HarnessResource {
    const definitions = [
        {
            name: "prometheus",
            image: images.prometheus,
            essential: true,
            command: prometheusArgs(),
            memory: 1536,
            portMappings: [{ containerPort: 9090, protocol: "tcp" }],
            linuxParameters: { tmpfs: [{ containerPath: "/prometheus", size: 512 }] },
            mountPoints: [{ sourceVolume: "config", containerPath: "/etc/prometheus", readOnly: true }, { sourceVolume: "web", containerPath: "/etc/prometheus/web", readOnly: true }],
            logConfiguration: logConfiguration(`/ecs/${family}`),
        },
        {
            name: "thanos-sidecar",
            image: images.thanos,
            essential: true,
            command: sidecarArgs,
            memory: 512,
            environment: [{ name: "TASK_FAMILY", value: family }],
            secrets: [{ name: "OBJSTORE_CONFIG", valueFrom: "arn:aws:ssm:us-east-1:111122223333:parameter/prometheus-paas/dev/objstore" }],
            portMappings: [{ containerPort: 10901 }, { containerPort: 10902 }],
            mountPoints: [{ sourceVolume: "config", containerPath: "/etc/prometheus", readOnly: false }],
            logConfiguration: logConfiguration(`/ecs/${family}`),
        },
        {
            name: "flush",
            image: images.thanos,
            essential: false,
            entryPoint: ["sh", "/etc/prometheus/flush/flush.sh", "--url=http://localhost:9090", "--user=payments", "--password-file=/etc/prometheus/web/password", "--tsdb=/prometheus",
                "--objstore=/etc/prometheus/objstore.yml", "--thanos=/bin/thanos", "--labels=/etc/prometheus/flush/upload-labels", "--envsubst=/etc/prometheus/flush/envsubst.awk", "--deadline=28", "--wait-for-term"],
            memory: 256,
            stopTimeout: 33,
            dependsOn: [{ containerName: "prometheus", condition: "START" }],
            mountPoints: [{ sourceVolume: "config", containerPath: "/etc/prometheus", readOnly: true }],
            logConfiguration: logConfiguration(`/ecs/${family}`),
        },
    ];
    return fixture("aws:ecs/taskDefinition:TaskDefinition", family, {
        family,
        requiresCompatibilities: ["EC2"],
        networkMode: "awsvpc",
        cpu: "512",
        memory: "2048",
        taskRoleArn: `arn:aws:iam::111122223333:role/${family}-task`,
        executionRoleArn: "arn:aws:iam::111122223333:role/ecs-execution",
        containerDefinitions: JSON.stringify(definitions),
        volumes: [
            { name: "config", efsVolumeConfiguration: { fileSystemId: "fs-0123456789abcdef0", rootDirectory: `/${family}`, transitEncryption: "ENABLED", authorizationConfig: { iam: "ENABLED" } } },
            { name: "web" },
        ],
    });
}

/** The web Secret of an instance: its web config with one bcrypt user (a hash of nothing in use). */
export function webAuthSecret(instance = "payments", webYml = `basic_auth_users:\n  ${instance}: $2b$10$II5/pIpxJLHoD70ob0vd.Oi8siOgaQQtR3OMmAfXXFpXT6uPA2E4m\n`): HarnessResource {
    return fixture("kubernetes:core/v1:Secret", `prometheus-${instance}-web`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `prometheus-${instance}-web`, namespace: "prometheus" },
        stringData: { "web.yml": webYml, password: "fixture-password-0123", "http-client.yml": `basic_auth:\n  username: ${instance}\n  password_file: /etc/prometheus/web/password\n` },
    }, { parent: instanceComponent(instance) });
}

/** Edits the container definitions (a JSON string) of an ECS task fixture. */
export function editContainers(task: HarnessResource, change: (definitions: Record<string, any>[], inputs: Record<string, any>) => void): HarnessResource {
    return edit(task, (inputs) => {
        const definitions = JSON.parse(inputs.containerDefinitions);
        change(definitions, inputs);
        inputs.containerDefinitions = JSON.stringify(definitions);
    });
}

export function ecsCompactorTask(family = "thanos-compactor", taskRole?: HarnessResource): HarnessResource {
    const definitions = [{
        name: "compactor",
        image: images.thanos,
        essential: true,
        command: ["compact", "--wait", "--data-dir=/var/thanos", `--objstore.config=${objstoreYml("thanos-dev")}`, "--http-address=0.0.0.0:10902", "--deduplication.replica-label=prometheus_replica", "--deduplication.func=penalty"],
        memory: 2048,
        logConfiguration: logConfiguration(`/ecs/${family}`),
    }];
    return fixture("aws:ecs/taskDefinition:TaskDefinition", family, {
        family,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "1024",
        memory: "2048",
        ephemeralStorage: { sizeInGib: 100 },
        taskRoleArn: taskRole ? (taskRole.outputs.arn as string) : `arn:aws:iam::111122223333:role/${family}-task`,
        executionRoleArn: "arn:aws:iam::111122223333:role/ecs-execution",
        containerDefinitions: JSON.stringify(definitions),
    }, { propertyDependencies: taskRole ? { taskRoleArn: [taskRole] } : {} });
}

export function ecsService(name: string, task: HarnessResource, inputs: Record<string, any> = {}, extra: FixtureOptions = {}): HarnessResource {
    return fixture("aws:ecs/service:Service", name, {
        name,
        cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/prometheus-paas",
        taskDefinition: `arn:aws:ecs:us-east-1:111122223333:task-definition/${task.inputs.family}:1`,
        launchType: "FARGATE",
        desiredCount: 1,
        deploymentMaximumPercent: 100,
        deploymentMinimumHealthyPercent: 0,
        networkConfiguration: { subnets: ["subnet-0a1b2c3d"], assignPublicIp: false },
        ...inputs,
    }, { ...extra, propertyDependencies: { taskDefinition: [task], ...(extra.propertyDependencies ?? {}) } });
}

export function efsFileSystem(inputs: Record<string, any> = {}): HarnessResource {
    return fixture("aws:efs/fileSystem:FileSystem", "prometheus-config", { encrypted: true, performanceMode: "generalPurpose", throughputMode: "bursting", tags: { Name: "prometheus-config" }, ...inputs });
}

// ------------------------------------------------------------------------------------------------ IAM

/** The trust policy the program gives every ECS role. */
export const ecsTrustPolicy = JSON.stringify(ecsTasksTrustPolicy("111122223333"));

export function role(name: string, inputs: Record<string, any> = {}): HarnessResource {
    return fixture("aws:iam/role:Role", name, { name, assumeRolePolicy: ecsTrustPolicy, ...inputs }, { outputs: { arn: `arn:aws:iam::111122223333:role/${name}` } });
}

/** The permission policy the program gives a Thanos component's task role on the bucket. */
export function thanosBucketPolicy(component: ThanosComponent, bucket = "thanos-dev"): string {
    return JSON.stringify(policyDocument(thanosBucketStatements(component, { bucketArn: `arn:aws:s3:::${bucket}` })));
}

/** A hand-written S3 policy, for the shapes the program never writes (wildcard resources, ...). */
export function s3PolicyDocument(actions: string[], bucket = "thanos-dev", resources?: string[]): string {
    const arn = `arn:aws:s3:::${bucket}`;
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            { Sid: "Bucket", Effect: "Allow", Action: actions.filter((a) => a === "s3:ListBucket"), Resource: resources ?? [arn] },
            { Sid: "Objects", Effect: "Allow", Action: actions.filter((a) => a !== "s3:ListBucket"), Resource: resources ?? [`${arn}/*`] },
        ].filter((statement) => statement.Action.length > 0),
    });
}

export function rolePolicy(name: string, target: HarnessResource, document: string): HarnessResource {
    return fixture("aws:iam/rolePolicy:RolePolicy", name, { role: target.inputs.name, policy: document }, { propertyDependencies: { role: [target] } });
}


// ----------------------------------------------------------------------------------- network, logs, tsuru

export function securityGroup(name: string, ingress: Record<string, any>[]): HarnessResource {
    return fixture("aws:ec2/securityGroup:SecurityGroup", name, { vpcId: "vpc-0a1b2c3d", description: `${name} access`, ingress, egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] });
}

export function ingressRule(name: string, inputs: Record<string, any>): HarnessResource {
    return fixture("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name, { securityGroupId: "sg-0a1b2c3d", ipProtocol: "tcp", fromPort: 9090, toPort: 9090, ...inputs });
}

export interface QueryLoadBalancer {
    readonly lb: HarnessResource;
    readonly listener: HarnessResource;
    readonly targetGroup: HarnessResource;
    readonly task: HarnessResource;
    readonly service: HarnessResource;
    readonly all: HarnessResource[];
}

/** Thanos Query on ECS behind an ALB: LB ← listener → target group ← service → task. Names avoid "thanos" on purpose. */
export function queryBehindLoadBalancer(internal: unknown = true, names = { lb: "grafana-backend", group: "backend-http" }): QueryLoadBalancer {
    const lb = fixture("aws:lb/loadBalancer:LoadBalancer", names.lb, { internal, loadBalancerType: "application", subnets: ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], securityGroups: ["sg-0a1b2c3d"] }, {
        outputs: { internal, arn: `arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/${names.lb}/1` },
    });
    const targetGroup = fixture("aws:lb/targetGroup:TargetGroup", names.group, { port: 8080, protocol: "HTTP", targetType: "ip", vpcId: "vpc-0a1b2c3d", healthCheck: { path: "/-/ready" } }, {
        outputs: { port: 8080, arn: `arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/${names.group}/2` },
    });
    const listener = fixture("aws:lb/listener:Listener", `${names.lb}-http`, {
        loadBalancerArn: lb.outputs.arn,
        port: 80,
        protocol: "HTTP",
        defaultActions: [{ type: "forward", targetGroupArn: targetGroup.outputs.arn }],
    }, { propertyDependencies: { loadBalancerArn: [lb], defaultActions: [targetGroup] } });
    const task = fixture("aws:ecs/taskDefinition:TaskDefinition", "backend-query", {
        family: "backend-query",
        requiresCompatibilities: ["FARGATE"],
        cpu: "512",
        memory: "1024",
        containerDefinitions: JSON.stringify([{ name: "query", image: images.thanos, command: ["query", "--http-address=0.0.0.0:8080", "--query.replica-label=prometheus_replica"], memory: 1024, portMappings: [{ containerPort: 8080 }] }]),
    });
    const service = ecsService("backend-query", task, { desiredCount: 2, deploymentMaximumPercent: 200, loadBalancers: [{ targetGroupArn: targetGroup.outputs.arn, containerName: "query", containerPort: 8080 }] }, {
        propertyDependencies: { loadBalancers: [targetGroup] },
    });
    return { lb, listener, targetGroup, task, service, all: [lb, listener, targetGroup, task, service] };
}

export function tsuruService(password: unknown = "s3cr3t-broker-password", options: FixtureOptions = { secretPaths: ["password"], additionalSecretOutputs: ["password"] }): HarnessResource {
    return fixture("pulumi-nodejs:dynamic/paas-tsuru:TsuruService", "tsuru-service", {
        __provider: "exports.handler = __f0;",
        apiUrl: "https://tsuru.example.com",
        serviceId: "prometheus",
        team: "platform",
        endpoints: { production: "https://prometheus-broker.example.com" },
        username: "prometheus",
        password,
        multiCluster: false,
        encoding: "form",
        adopt: false,
    }, options);
}

export function logGroup(name: string, retentionInDays?: unknown): HarnessResource {
    return fixture("aws:cloudwatch/logGroup:LogGroup", name, { name: `/ecs/${name}`, ...(retentionInDays === undefined ? {} : { retentionInDays }) });
}
