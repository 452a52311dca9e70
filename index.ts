import { loadStackConfig } from "./components/config";
import { buildPlatform } from "./components/platform";

const config = loadStackConfig();
const platform = buildPlatform(config);

export const environment = config.environment;
export const prometheusUrls = platform.prometheusUrls;
export const thanosQueryUrl = platform.thanosQueryUrl;
export const bucketName = platform.bucket.bucketName;
export const bucketEndpoint = platform.bucket.endpoint;
export const instances = config.instances.map((instance) => ({
    name: instance.name,
    team: instance.team,
    plan: instance.plan.name,
    replicas: instance.replicas,
    apps: instance.apps.map((app) => `${app.namespace}/${app.name}`),
}));
export const tsuruServiceId = platform.tsuruService?.id;
export const ecsThanosQueryUrl = platform.ecs?.thanosQueryUrl;
export const ecsQueryLoadBalancerDnsName = platform.ecs?.queryLoadBalancerDnsName;
export const ecsPrometheusUrls = platform.ecs?.prometheusUrls;
export const ecsConfigUpdateCommands = platform.ecs?.configUpdateCommands;
