/**
 * The stack program as a function: reads the stack config and builds the platform on every call, so the same
 * code serves `pulumi up` (index.ts) and the Automation API's inline programs (pipeline, broker, tests), where
 * a module-level program would register nothing the second time it is required.
 */
import { loadStackConfig } from "./config/stack";
import type { EcsApp, KubernetesApp, StackConfig } from "./config/types";
import { buildPlatform } from "./platform";

/** How an app names itself in the outputs: namespace/app on Kubernetes, cluster/family on ECS. */
function appReference(app: KubernetesApp | EcsApp): string {
    return "family" in app ? `${app.cluster}/${app.family}` : `${app.namespace}/${app.name}`;
}

export function stackProgram(config: StackConfig = loadStackConfig()) {
    const platform = buildPlatform(config);
    return {
        environment: config.environment,
        prometheusUrls: platform.prometheusUrls,
        /** Each instance's history front: what its tenant reads its history through, with its credentials. */
        prometheusHistoryUrls: platform.historyUrls,
        /** Web user and password of every instance (secret: `pulumi stack output --show-secrets prometheusCredentials`). */
        prometheusCredentials: platform.prometheusCredentials,
        thanosQueryUrl: platform.thanosQueryUrl,
        bucketName: platform.bucket.bucketName,
        bucketEndpoint: platform.bucket.endpoint,
        instances: config.instances.map((instance) => ({
            name: instance.name,
            team: instance.team,
            plan: instance.plan.name,
            replicas: instance.replicas,
            apps: instance.apps.map(appReference),
        })),
        tsuruServiceId: platform.tsuruService?.id,
        ecsThanosQueryUrl: platform.ecs?.thanosQueryUrl,
        ecsQueryLoadBalancerDnsName: platform.ecs?.queryLoadBalancerDnsName,
        ecsPrometheusUrls: platform.ecs?.prometheusUrls,
        ecsPrometheusHistoryUrls: platform.ecs?.historyUrls,
        ecsConfigUpdateCommands: platform.ecs?.configUpdateCommands,
    };
}

export type StackOutputs = ReturnType<typeof stackProgram>;
