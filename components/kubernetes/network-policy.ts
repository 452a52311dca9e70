/**
 * NetworkPolicies of the instances' namespaces: every pod denied both ways by default, then each component admits
 * exactly its peers. Namespaces are matched by `kubernetes.io/metadata.name` (the API server sets it; a tenant
 * cannot put it on another namespace); ingress names the pod's own ports, egress the peer's port numbers.
 * Pure: the components wire these specs.
 */
import type * as k8s from "@pulumi/kubernetes";
import { cidrStrictlyInside } from "../config/primitives";
import type { KubernetesInstanceConfig, NetworkConfig, NetworkEndpoint, NetworkPeer } from "../config/types";
import { anyPrometheusPodLabels, prometheusPodLabels } from "../prometheus/kubernetes-spec";
import { queryHttpPort, thanosPorts } from "../thanos/defaults";
import { thanosLabels, thanosQueryObjects } from "../thanos/kubernetes-spec";
import { anyInstanceLabels } from "./workload";

type Spec = k8s.types.input.networking.v1.NetworkPolicySpec;
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;
type Port = k8s.types.input.networking.v1.NetworkPolicyPort;
type Selector = k8s.types.input.meta.v1.LabelSelector;
type EgressRule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
type IngressRule = k8s.types.input.networking.v1.NetworkPolicyIngressRule;

export const namespaceNameLabel = "kubernetes.io/metadata.name";
export const defaultDenyPolicyName = "default-deny";

/** Selects every pod of the namespace and admits nothing: what no other policy admits stays closed. */
export const defaultDenySpec: Spec = { podSelector: {}, policyTypes: ["Ingress", "Egress"] };

function namespaces(names: readonly string[]): Selector {
    const unique = [...new Set(names)].sort();
    return unique.length === 1
        ? { matchLabels: { [namespaceNameLabel]: unique[0] } }
        : { matchExpressions: [{ key: namespaceNameLabel, operator: "In", values: unique }] };
}

function podsIn(namespaceNames: readonly string[], podSelector: Selector): Peer {
    return { namespaceSelector: namespaces(namespaceNames), podSelector };
}

function peersOf(peer: NetworkPeer): Peer[] {
    if (peer.namespace !== undefined) return [podsIn([peer.namespace], { matchLabels: { ...peer.pods } })];
    return (peer.cidrs ?? []).map((cidr) => {
        const except = (peer.except ?? []).filter((block) => cidrStrictlyInside(cidr, block));
        return { ipBlock: except.length > 0 ? { cidr, except } : { cidr } };
    });
}

const tcp = (ports: readonly (number | string)[]): Port[] => ports.map((port) => ({ protocol: "TCP", port }));

function egressTo(endpoint: NetworkEndpoint): EgressRule {
    return { to: peersOf(endpoint), ports: tcp(endpoint.ports) };
}

function dnsEgress(dns: NetworkEndpoint): EgressRule {
    return { to: peersOf(dns), ports: dns.ports.flatMap((port) => [{ protocol: "UDP", port }, { protocol: "TCP", port }]) };
}

/** A Thanos component's pods, whichever stack created them. */
const thanosPods = (component: Parameters<typeof thanosLabels>[0]): Selector => ({ matchLabels: anyInstanceLabels(thanosLabels(component, "any")) });
const { "app.kubernetes.io/component": _component, ...anyThanosPod } = anyInstanceLabels(thanosLabels("query", "any"));
/** Both Thanos Queries' pods (the platform's and the tenants'). */
const queryPods: Selector = { matchLabels: anyThanosPod, matchExpressions: [{ key: "app.kubernetes.io/component", operator: "In", values: ["query", "query-tenants"] }] };
const anyPrometheusPods: Selector = { matchLabels: anyPrometheusPodLabels() };

/** The units of a bound Tsuru app or job (Tsuru's own pod labels), optionally only some processes. */
function tsuruUnits(kind: "app" | "job", target: { name: string; namespace: string }, processes?: readonly string[]): Peer {
    const podSelector: Selector = { matchLabels: { [`tsuru.io/${kind}-name`]: target.name } };
    if (processes !== undefined && processes.length > 0) podSelector.matchExpressions = [{ key: "tsuru.io/app-process", operator: "In", values: [...processes] }];
    return podsIn([target.namespace], podSelector);
}

export interface PrometheusNetworkInput {
    readonly instance: KubernetesInstanceConfig;
    readonly network: NetworkConfig;
    /** Namespace of the platform's Thanos (both Queries). */
    readonly thanosNamespace: string;
}

/**
 * One instance's pods. In: Grafana and the bound apps' units (web and history, both asking for the instance's
 * credentials), both Queries (the sidecar's StoreAPI). Out: DNS, the bound units on their scrape ports (and the
 * API server that lists them), Alertmanager, the bucket (sidecar uploads, the flush), the tenants' Query (the front).
 */
export function prometheusNetworkPolicySpec({ instance, network, thanosNamespace }: PrometheusNetworkInput): Spec {
    // Scraped: the processes the instance scrapes; querying: any unit of the app.
    const apps = instance.apps.map((app) => ({ scraped: tsuruUnits("app", app, app.processes), querying: tsuruUnits("app", app), port: app.port }));
    const jobs = (instance.jobs ?? []).map((job) => ({ scraped: tsuruUnits("job", job), querying: tsuruUnits("job", job), port: job.port }));
    const bound = [...apps, ...jobs];
    const ingress: IngressRule[] = [
        { from: [...peersOf(network.grafana), ...bound.map((unit) => unit.querying)], ports: tcp(["web", "history"]) },
        { from: [podsIn([thanosNamespace], queryPods)], ports: tcp(["grpc"]) },
    ];
    const egress: EgressRule[] = [
        dnsEgress(network.dns),
        ...(bound.length > 0 ? [egressTo(network.apiServer)] : []),
        ...bound.map((unit) => ({ to: [unit.scraped], ports: tcp([unit.port]) })),
        ...network.alertmanagers.map(egressTo),
        egressTo(network.bucket),
        { to: [podsIn([thanosNamespace], thanosPods("query-tenants"))], ports: tcp([queryHttpPort]) },
    ];
    return { podSelector: { matchLabels: prometheusPodLabels(instance) }, policyTypes: ["Ingress", "Egress"], ingress, egress };
}

export interface ThanosNetworkInput {
    readonly network: NetworkConfig;
    /** Namespaces whose Prometheus pods the Queries read (the stack's and the broker's instances'). */
    readonly instanceNamespaces: readonly string[];
    /** The KubernetesThanos' name (its pods' instance label). */
    readonly instance: string;
}

/**
 * Store and compactor reach only DNS and the bucket; the store admits both Queries. The platform's Query admits
 * Grafana, the tenants' Query only the instances' history fronts; neither admits anyone on gRPC (it serves every
 * tenant). Both reach the store and the sidecars on the StoreAPI.
 */
export function thanosNetworkPolicySpecs({ network, instanceNamespaces, instance }: ThanosNetworkInput): Record<"store" | "compactor" | "query" | "queryTenants", Spec> {
    const bucketReader = (labels: Record<string, string>, ingress: IngressRule[]): Spec => ({
        podSelector: { matchLabels: labels },
        policyTypes: ["Ingress", "Egress"],
        ingress,
        egress: [dnsEgress(network.dns), egressTo(network.bucket)],
    });
    const query = (labels: Record<string, string>, from: Peer[]): Spec => ({
        podSelector: { matchLabels: labels },
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from, ports: tcp(["http"]) }],
        egress: [
            dnsEgress(network.dns),
            { to: [{ podSelector: thanosPods("store") }, podsIn(instanceNamespaces, anyPrometheusPods)], ports: tcp([thanosPorts.grpc]) },
        ],
    });
    return {
        store: bucketReader(thanosLabels("store", instance), [{ from: [{ podSelector: queryPods }], ports: tcp(["grpc"]) }]),
        compactor: bucketReader(thanosLabels("compactor", instance), []),
        query: query(thanosQueryObjects("platform", instance).selector, peersOf(network.grafana)),
        queryTenants: query(thanosQueryObjects("tenants", instance).selector, [podsIn(instanceNamespaces, anyPrometheusPods)]),
    };
}

/** The broker: Tsuru's API calls it; it reaches the API server (its engine), DNS, and the bucket when its backend is there. */
export function brokerNetworkPolicySpec(input: { network: NetworkConfig; pods: Record<string, string>; backendInBucket: boolean }): Spec {
    return {
        podSelector: { matchLabels: input.pods },
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: peersOf(input.network.tsuru), ports: tcp(["http"]) }],
        egress: [dnsEgress(input.network.dns), egressTo(input.network.apiServer), ...(input.backendInBucket ? [egressTo(input.network.bucket)] : [])],
    };
}
