/**
 * The stack config: loaded from the running stack's `prometheus-paas:*` keys, parsed by the schema, then checked
 * across keys (plans, instances, the AWS half, Tsuru and the broker) with derived defaults resolved.
 */
import type { Plan } from "../plans";
import { validateServiceInputs } from "../tsuru/service";
import { checkEcs } from "./aws";
import { ConfigError, configErrorMap, formatIssue } from "./errors";
import { resolveInstances } from "./instances";
import { resolveNetwork } from "./network";
import { mergePlans, unknownPoolPlans } from "./plan-catalog";
import { projectName } from "./primitives";
import { passwordProblem } from "../prometheus/web-auth";
import { decodeConfigValue, projectConfig, secretConfig, secretConfigObject } from "./read";
import { secretConfigKeys, stackConfigSchema } from "./schema";
import type { ConfigSecrets, InstanceConfig, RawStackConfig, StackConfig } from "./types";

/** The one platform whose Thanos runs the compactor: two compactors on one bucket corrupt or halt each other. */
function compactorPlatform(configured: "kubernetes" | "ecs" | undefined, instances: InstanceConfig[]): "kubernetes" | "ecs" {
    return configured ?? (instances.some((instance) => instance.platform === "kubernetes") || !instances.some((instance) => instance.platform === "ecs") ? "kubernetes" : "ecs");
}

function checkTsuru(config: RawStackConfig, plans: Readonly<Record<string, Plan>>, problems: string[]): void {
    if (config.broker !== undefined) {
        if (!config.brokerBackendPassphrase) problems.push(`${projectName}:brokerBackendPassphrase: is required with broker (set it with --secret); it encrypts the instance stacks' secrets`);
        problems.push(...unknownPoolPlans(config.broker.poolPlans, plans, `${projectName}:broker.poolPlans`));
    }
    if (config.tsuru === undefined) return;
    if (config.tsuru.endpoints === undefined && config.broker === undefined) {
        problems.push(`${projectName}:tsuru.endpoints: is required unless the stack deploys the broker (then its address is registered)`);
        return;
    }
    const endpoints = config.broker ? { ...(typeof config.tsuru.endpoints === "string" ? { production: config.tsuru.endpoints } : config.tsuru.endpoints), [config.broker.cluster]: "http://broker.placeholder.svc:8080" } : config.tsuru.endpoints;
    const { failures } = validateServiceInputs({ ...config.tsuru, endpoints, password: config.tsuruServicePassword || "generated" });
    for (const failure of failures) {
        problems.push(`${projectName}:tsuru.${failure.property}: ${failure.reason}`);
    }
}

/** Validates raw stack configuration (keys without the project prefix). Throws ConfigError listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>, secrets: ConfigSecrets = {}): StackConfig {
    const parsed = stackConfigSchema.safeParse(raw, { errorMap: configErrorMap });
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => formatIssue(issue)));
    }
    const config = parsed.data;
    const problems: string[] = [];
    const hasAccessKey = Boolean(config.bucketAccessKey);
    const plans = mergePlans(config.plans, problems);
    const instances = resolveInstances(config.instances, plans, config.thanos.replicaLabel, problems);
    checkEcs(config, instances, problems);
    checkTsuru(config, plans, problems);
    const grafanaNamespace = config.grafana.namespace ?? config.kubernetes.namespace;
    const network = resolveNetwork(config, config.broker !== undefined || instances.some((instance) => instance.platform === "kubernetes"), problems);
    for (const [name, password] of Object.entries(config.instancePasswords)) {
        if (!instances.some((instance) => instance.name === name)) {
            problems.push(`${projectName}:instancePasswords.${name}: names no instance; declared: ${instances.map((instance) => instance.name).join(", ") || "none"}`);
        }
        const problem = passwordProblem(password);
        if (problem !== undefined) problems.push(`${projectName}:instancePasswords.${name}: ${problem}`);
    }
    if (hasAccessKey !== Boolean(config.bucketSecretKey)) {
        problems.push(`${projectName}:bucketAccessKey: set both bucketAccessKey and bucketSecretKey (as secrets), or neither to use the SDK's default credentials`);
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return {
        environment: config.environment,
        region: config.region,
        product: config.product,
        kubernetes: { ...config.kubernetes, network },
        grafana: { datasources: config.grafana.datasources, namespace: grafanaNamespace, orgs: config.grafana.orgs },
        instances,
        plans,
        thanos: { ...config.thanos, compactor: { ...config.thanos.compactor, platform: compactorPlatform(config.thanos.compactor.platform, instances) } },
        bucket: config.bucket,
        alertmanagers: config.alertmanagers,
        bucketCredentials: secrets.bucketCredentials,
        tsuru: config.tsuru,
        tsuruServicePassword: secrets.tsuruServicePassword,
        broker: config.broker,
        brokerBackendPassphrase: secrets.brokerBackendPassphrase,
        instancePasswords: secrets.instancePasswords,
        ecs: config.ecs && {
            ...config.ecs,
            cluster: { name: config.ecs.cluster.name ?? `prometheus-${config.environment}`, existing: config.ecs.cluster.existing },
            serviceDiscoveryNamespace: config.ecs.serviceDiscoveryNamespace ?? `prometheus-${config.environment}.internal`,
        },
        yace: config.yace && { ...config.yace, regions: config.yace.regions ?? [config.region] },
    };
}

/** Reads the current stack's `prometheus-paas:*` configuration and validates it. */
export function loadStackConfig(): StackConfig {
    const raw = Object.fromEntries(Object.entries(projectConfig(projectName)).map(([key, value]) => [key, stringConfigKeys.has(key) ? value : decodeConfigValue(value)]));
    const secret = (key: (typeof secretConfigKeys)[number]) => (raw[key] ? secretConfig(projectName, key) : undefined);
    const accessKey = secret("bucketAccessKey");
    const secretKey = secret("bucketSecretKey");
    const passwords = raw.instancePasswords ? secretConfigObject<Record<string, string>>(projectName, "instancePasswords") : undefined;
    const passwordNames = raw.instancePasswords !== null && typeof raw.instancePasswords === "object" ? Object.keys(raw.instancePasswords) : [];
    // The plain copies only serve validation; the secrets travel as secret Outputs.
    return parseStackConfig(raw, {
        bucketCredentials: accessKey && secretKey ? { accessKey, secretKey } : undefined,
        tsuruServicePassword: secret("tsuruServicePassword"),
        brokerBackendPassphrase: secret("brokerBackendPassphrase"),
        instancePasswords: passwords && Object.fromEntries(passwordNames.map((name) => [name, passwords.apply((all) => all[name])])),
    });
}

const stringConfigKeys = new Set<string>(["environment", "region", "product", ...secretConfigKeys]);
