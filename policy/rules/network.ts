/** Network exposure of Prometheus and Thanos. */
import { describe, resourcePolicy, stackPolicy, StackGraph, View, Violation } from "../lib/model";
import { arr, isObject, isUnknown, num, obj, str } from "../lib/values";
import { isPrometheus, isThanosImage, workloadOf } from "../lib/workloads";

/** Prometheus web (9090, also Thanos Query's HTTP here) and the Thanos gRPC/HTTP range (10901-10908). */
export const monitoringPorts: readonly number[] = [9090, 10901, 10902, 10903, 10904, 10905, 10906, 10907, 10908];

const everywhere = ["0.0.0.0/0", "::/0"];

function coversMonitoringPort(protocol: unknown, from: unknown, to: unknown): number[] | "unknown" {
    if (isUnknown(protocol) || isUnknown(from) || isUnknown(to)) return "unknown";
    const proto = String(protocol ?? "tcp").toLowerCase();
    if (proto === "-1" || proto === "all") return [...monitoringPorts];
    if (proto !== "tcp" && proto !== "6") return [];
    const low = num(from) ?? 0;
    const high = num(to) ?? low;
    // AWS encodes "all ports" as 0-0 or -1 for some protocols.
    if (low <= 0 && high <= 0) return [...monitoringPorts];
    return monitoringPorts.filter((port) => port >= low && port <= high);
}

function openCidrs(...lists: unknown[]): string[] {
    return lists.flatMap((list) => (Array.isArray(list) ? list : [list])).map((cidr) => str(cidr)).filter((cidr): cidr is string => cidr !== undefined && everywhere.includes(cidr));
}

export const noPublicIngress = resourcePolicy(
    {
        name: "no-public-ingress-to-monitoring-ports",
        description: "No security group rule opens Prometheus/Thanos ports (9090, 10901-10908) to 0.0.0.0/0 or ::/0.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Allow the ports only from the security groups or VPC CIDRs that need them (Grafana, Thanos Query, the VPC), never from the internet.",
    },
    (view) => {
        const rules: { label: string; protocol: unknown; from: unknown; to: unknown; cidrs: string[] }[] = [];
        switch (view.type) {
            case "aws:ec2/securityGroup:SecurityGroup":
                arr(view.props.ingress).filter(isObject).forEach((rule, index) =>
                    rules.push({ label: `${describe(view)} ingress[${index}]`, protocol: rule.protocol, from: rule.fromPort, to: rule.toPort, cidrs: openCidrs(rule.cidrBlocks, rule.ipv6CidrBlocks) }),
                );
                break;
            case "aws:ec2/securityGroupRule:SecurityGroupRule":
                if (view.props.type === "ingress") {
                    rules.push({ label: describe(view), protocol: view.props.protocol, from: view.props.fromPort, to: view.props.toPort, cidrs: openCidrs(view.props.cidrBlocks, view.props.ipv6CidrBlocks) });
                }
                break;
            case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
                rules.push({ label: describe(view), protocol: view.props.ipProtocol, from: view.props.fromPort, to: view.props.toPort, cidrs: openCidrs(view.props.cidrIpv4, view.props.cidrIpv6) });
                break;
        }
        return rules
            .filter((rule) => rule.cidrs.length > 0)
            .flatMap((rule) => {
                const ports = coversMonitoringPort(rule.protocol, rule.from, rule.to);
                if (ports === "unknown" || ports.length === 0) return [];
                return [
                    `${rule.label} opens Prometheus/Thanos port(s) ${ports.join(", ")} to ${rule.cidrs.join(" and ")}: ` +
                        `allow them only from the security groups that need them (Grafana, Thanos Query) or the VPC CIDR.`,
                ];
            });
    },
);

const awsLoadBalancerTypes = ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer", "aws:elb/loadBalancer:LoadBalancer"];
const listenerTypes = ["aws:lb/listener:Listener", "aws:alb/listener:Listener"];
const targetGroupTypes = ["aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"];
const monitoringName = /thanos|prometheus|query/i;

const internalAnnotations: Record<string, string[]> = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": ["true", "0.0.0.0/0"],
    "service.beta.kubernetes.io/aws-load-balancer-scheme": ["internal"],
    "networking.gke.io/load-balancer-type": ["Internal"],
    "cloud.google.com/load-balancer-type": ["Internal"],
    "service.beta.kubernetes.io/azure-load-balancer-internal": ["true"],
};

function isMonitoringPort(value: unknown): boolean {
    const port = num(value);
    return port !== undefined && monitoringPorts.includes(port);
}

/** Why an AWS load balancer serves Prometheus/Thanos, or undefined. */
function monitoringReason(graph: StackGraph, lb: View): string | undefined {
    if ([lb.name, str(lb.props.name), str(lb.props.namePrefix)].some((name) => name !== undefined && monitoringName.test(name))) return "its name";
    if (lb.type === "aws:elb/loadBalancer:LoadBalancer") {
        const listener = arr(lb.props.listeners).filter(isObject).find((l) => isMonitoringPort(l.instancePort) || isMonitoringPort(l.lbPort));
        if (listener) return `listener on port ${num(listener.lbPort)}`;
        return undefined;
    }
    const listeners = graph.ofType(...listenerTypes).filter((listener) => graph.refersTo(listener, "loadBalancerArn", lb));
    for (const listener of listeners) {
        if (isMonitoringPort(listener.props.port)) return `${describe(listener)} on port ${num(listener.props.port)}`;
        const groups = graph.ofType(...targetGroupTypes).filter((group) => {
            const actions = arr(listener.props.defaultActions).filter(isObject);
            const arns = actions.flatMap((action) => [action.targetGroupArn, ...arr(action.forward?.targetGroups).filter(isObject).map((g) => g.arn)]);
            return graph.refersTo(listener, "defaultActions", group, arns);
        });
        for (const group of groups) {
            if (isMonitoringPort(group.props.port) || monitoringName.test(group.name)) return `${describe(group)} (port ${num(group.props.port)})`;
            const services = graph.ofType("aws:ecs/service:Service").filter((service) => {
                const arns = arr(service.props.loadBalancers).filter(isObject).map((entry) => entry.targetGroupArn);
                return graph.refersTo(service, "loadBalancers", group, arns);
            });
            for (const service of services) {
                const entries = arr(service.props.loadBalancers).filter(isObject);
                if (entries.some((entry) => isMonitoringPort(entry.containerPort))) return `${describe(service)} behind ${describe(group)}`;
                const task = graph.ofType("aws:ecs/taskDefinition:TaskDefinition").find((definition) => graph.refersTo(service, "taskDefinition", definition));
                const workload = task === undefined ? undefined : workloadOf(task);
                const served = workload?.containers.filter((container) => entries.some((entry) => str(entry.containerName) === container.name));
                if (served?.some((container) => isPrometheus(container) || isThanosImage(container.image))) return `${describe(service)} serves Prometheus/Thanos`;
            }
        }
    }
    return undefined;
}

function kubernetesServiceExposesMonitoring(view: View): boolean {
    const spec = obj(view.props.spec);
    const ports = arr(spec.ports).filter(isObject);
    if (ports.some((port) => isMonitoringPort(port.port) || isMonitoringPort(port.targetPort))) return true;
    const selector = Object.values(obj(spec.selector)).map((value) => str(value) ?? "");
    return [view.name, str(view.props.metadata?.name) ?? "", ...selector].some((name) => monitoringName.test(name));
}

export const loadBalancerInternal = stackPolicy(
    {
        name: "monitoring-load-balancer-internal",
        description: "Load balancers in front of Thanos Query / Prometheus are internal (AWS internal: true; Kubernetes LoadBalancer services carry an internal annotation).",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Set internal: true on the aws.lb.LoadBalancer (in private subnets); for Kubernetes, annotate the Service with service.beta.kubernetes.io/aws-load-balancer-scheme: internal, or use ClusterIP.",
    },
    (graph) => {
        const violations: Violation[] = [];
        for (const lb of graph.ofType(...awsLoadBalancerTypes)) {
            if (isUnknown(lb.props.internal) || lb.props.internal === true) continue;
            const reason = monitoringReason(graph, lb);
            if (reason === undefined) continue;
            violations.push({
                urn: lb.urn,
                message: `${describe(lb)} fronts Thanos Query/Prometheus (${reason}) but is internet-facing: set internal: true and place it in private subnets.`,
            });
        }
        for (const service of graph.ofType("kubernetes:core/v1:Service")) {
            if (service.props.spec?.type !== "LoadBalancer" || !kubernetesServiceExposesMonitoring(service)) continue;
            const annotations = obj(service.props.metadata?.annotations);
            const internal = Object.entries(internalAnnotations).some(([key, values]) => values.includes(str(annotations[key]) ?? ""));
            if (!internal && !isUnknown(service.props.metadata?.annotations)) {
                violations.push({
                    urn: service.urn,
                    message: `${describe(service)} exposes Thanos Query/Prometheus through a public LoadBalancer: annotate it service.beta.kubernetes.io/aws-load-balancer-scheme: internal, or keep it ClusterIP.`,
                });
            }
        }
        return violations;
    },
);

const networkPolicyType = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

/** A NetworkPolicy that selects every pod of its namespace and admits nothing either way; "unknown" while not known. */
function deniesAllByDefault(policy: View): boolean | "unknown" {
    const spec = policy.props.spec;
    if (isUnknown(spec) || isUnknown(spec?.podSelector) || isUnknown(spec?.policyTypes)) return "unknown";
    const selector = obj(spec?.podSelector);
    const selectsAll = Object.keys(obj(selector.matchLabels)).length === 0 && arr(selector.matchExpressions).length === 0;
    const types = arr(spec?.policyTypes).map((type) => str(type));
    return selectsAll && types.includes("Ingress") && types.includes("Egress") && arr(spec?.ingress).length === 0 && arr(spec?.egress).length === 0;
}

export const instancesNamespaceDefaultDeny = stackPolicy(
    {
        name: "instances-namespace-default-deny",
        description: "Every namespace running Prometheus or Thanos pods has a NetworkPolicy denying all ingress and egress by default (podSelector {}, policyTypes Ingress and Egress, no rules).",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Keep the platform's default-deny NetworkPolicy in the instances' namespace: without it the sidecars' StoreAPI (every sample, no authentication) and Thanos Query answer any pod of the cluster.",
    },
    (graph) => {
        const policies = graph.ofType(networkPolicyType);
        const violations: Violation[] = [];
        const checked = new Set<string>();
        for (const view of graph.resources) {
            const workload = workloadOf(view);
            // A namespace not yet known (created in the same update) is checked once it is.
            if (workload?.platform !== "kubernetes" || workload.namespace === undefined || isUnknown(workload.namespace) || checked.has(workload.namespace)) continue;
            if (!workload.containers.some((container) => isPrometheus(container) || isThanosImage(container.image))) continue;
            checked.add(workload.namespace);
            const inNamespace = policies.filter((policy) => str(policy.props.metadata?.namespace) === workload.namespace || isUnknown(policy.props.metadata?.namespace));
            const verdicts = inNamespace.map(deniesAllByDefault);
            if (verdicts.includes(true) || verdicts.includes("unknown")) continue;
            violations.push({
                urn: view.urn,
                message: `namespace '${workload.namespace}' runs ${workload.label} but no NetworkPolicy there denies all ingress and egress by default ` +
                    `(podSelector {}, policyTypes [Ingress, Egress], no rules): any pod of the cluster reaches the sidecars' StoreAPI and Thanos Query.`,
            });
        }
        return violations;
    },
);
