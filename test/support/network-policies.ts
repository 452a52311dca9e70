/**
 * NetworkPolicy verdicts for a traffic matrix from the real evaluator (tools/netpol-eval: cyclonus' matcher, the
 * NetworkPolicy semantics without a cluster or CNI). Peers are pods (their namespace, labelled by the API server
 * with `kubernetes.io/metadata.name`, and their labels) or addresses outside the pod network.
 */
import { execFileSync } from "child_process";
import { namespaceNameLabel } from "../../components/kubernetes/network-policy";
import type { Manifest } from "./manifests";
import { findManifest } from "./manifests";
import { toolBinary } from "./tools";

export interface PodPeer {
    readonly namespace: string;
    readonly podLabels: Readonly<Record<string, string>>;
    /** Labels beyond `kubernetes.io/metadata.name` (what a tenant may put on its own namespace). */
    readonly namespaceLabels?: Readonly<Record<string, string>>;
    /** Named container ports, for flows to this pod. */
    readonly ports?: Readonly<Record<string, number>>;
    readonly ip?: string;
}

export interface AddressPeer {
    readonly ip: string;
}

export type Peer = PodPeer | AddressPeer;

export interface Flow {
    readonly from: Peer;
    readonly to: Peer;
    /** A number, or the name of a container port of the destination pod. */
    readonly port: number | string;
    readonly protocol?: "TCP" | "UDP";
}

export interface Verdict {
    readonly allowed: boolean;
    readonly ingress: boolean;
    readonly egress: boolean;
}

const isPod = (peer: Peer): peer is PodPeer => "namespace" in peer;

let nextPodIp = 1;
/** Pods get addresses of a pod network (10.244.0.0/16), as a CNI would give them. */
export function pod(namespace: string, podLabels: Record<string, string>, extra: Pick<PodPeer, "namespaceLabels" | "ports"> = {}): PodPeer {
    const ip = `10.244.${Math.floor(nextPodIp / 250)}.${(nextPodIp % 250) + 1}`;
    nextPodIp++;
    return { namespace, podLabels, ...extra, ip };
}

/** The pods of a rendered workload (StatefulSet, Deployment): its template's labels and its containers' named ports. */
export function workloadPod(manifests: readonly Manifest[], kind: string, name: string, namespace?: string): PodPeer {
    const workload = findManifest(manifests, kind, name, namespace);
    const ports: Record<string, number> = {};
    for (const container of workload.spec.template.spec.containers) {
        for (const port of container.ports ?? []) if (port.name) ports[port.name] = port.containerPort;
    }
    return pod(workload.metadata.namespace!, workload.spec.template.metadata.labels, { ports });
}

function resolvePort(flow: Flow): { port: number; portName: string } {
    if (typeof flow.port === "number") {
        const named = isPod(flow.to) ? Object.entries(flow.to.ports ?? {}).find(([, number]) => number === flow.port) : undefined;
        return { port: flow.port, portName: named?.[0] ?? "" };
    }
    const number = isPod(flow.to) ? flow.to.ports?.[flow.port] : undefined;
    if (number === undefined) throw new Error(`the destination has no container port named ${flow.port}`);
    return { port: number, portName: flow.port };
}

function peerJson(peer: Peer) {
    if (!isPod(peer)) return { ip: peer.ip };
    return { ip: peer.ip, namespace: peer.namespace, namespaceLabels: { ...peer.namespaceLabels, [namespaceNameLabel]: peer.namespace }, podLabels: peer.podLabels };
}

/** Verdicts of `flows` (by name) under `policies` (NetworkPolicy objects as rendered or as the API server holds them). */
export function evaluateFlows<K extends string>(policies: readonly Manifest[], flows: Readonly<Record<K, Flow>>): Record<K, Verdict> {
    const names = Object.keys(flows) as K[];
    const request = {
        policies: policies.map((policy) => ({ apiVersion: policy.apiVersion, kind: policy.kind, metadata: { name: policy.metadata.name, namespace: policy.metadata.namespace }, spec: policy.spec })),
        flows: names.map((name) => ({ name, source: peerJson(flows[name].from), destination: peerJson(flows[name].to), protocol: flows[name].protocol ?? "TCP", ...resolvePort(flows[name]) })),
    };
    const output = execFileSync(toolBinary("netpol-eval"), [], { input: JSON.stringify(request), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const verdicts = JSON.parse(output) as (Verdict & { name: K })[];
    return Object.fromEntries(verdicts.map(({ name, ...verdict }) => [name, verdict])) as Record<K, Verdict>;
}

/** The flows whose verdict is not `expected`, with both directions' answers: empty when the matrix holds. */
export function unexpectedVerdicts(verdicts: Readonly<Record<string, Verdict>>, expected: Readonly<Record<string, boolean>>): string[] {
    return Object.entries(expected)
        .filter(([name, allowed]) => verdicts[name]?.allowed !== allowed)
        .map(([name, allowed]) => `${name}: expected ${allowed ? "allowed" : "denied"}, got ${JSON.stringify(verdicts[name])}`);
}

/**
 * An instance's Prometheus pod and a unit of an app (its web process) under `policies`: whether Prometheus scrapes
 * the unit on `app.port`, and whether the unit reaches Prometheus' web and its sidecar's StoreAPI.
 */
export function boundAppTraffic(policies: readonly Manifest[], prometheus: PodPeer, app: { name: string; namespace: string; port: number }): { scrape: boolean; query: boolean; storeApi: boolean } {
    const unit = pod(app.namespace, { "tsuru.io/app-name": app.name, "tsuru.io/app-process": "web" });
    const verdicts = evaluateFlows(policies, {
        scrape: { from: prometheus, to: unit, port: app.port },
        query: { from: unit, to: prometheus, port: "web" },
        storeApi: { from: unit, to: prometheus, port: "grpc" },
    });
    return { scrape: verdicts.scrape.allowed, query: verdicts.query.allowed, storeApi: verdicts.storeApi.allowed };
}
