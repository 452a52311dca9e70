/**
 * `kubernetes.network`: where the peers of the instances' pods are (Grafana, Tsuru's API, DNS, the API server,
 * Alertmanager, the bucket), as namespaces (matched by `kubernetes.io/metadata.name`, which only the API server
 * sets) with pod labels, or as CIDR blocks. The schemas; network.ts derives the defaults from the rest of the stack.
 */
import { z } from "zod";
import { cidrStrictlyInside, dnsLabel, ipv4Cidr, ipv4CidrPrefix, strictObject } from "./primitives";

const labelKey = z.string().regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    "pod label keys are Kubernetes label keys such as app.kubernetes.io/name",
);
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, "pod label values are at most 63 letters, digits, '-', '_' or '.'");
const port = z.number().int().min(1, "ports are 1-65535").max(65535, "ports are 1-65535");

const peerFields = {
    /** The peers' namespace (its `kubernetes.io/metadata.name`). */
    namespace: dnsLabel("namespace").optional(),
    /** Labels of the peers' pods in that namespace; default: every pod of it. */
    pods: z.record(labelKey, labelValue).optional(),
    /** Addresses outside the pod network (the API server's endpoints, a bucket's service). */
    cidrs: z.array(ipv4Cidr).min(1, "cidrs needs at least one CIDR block").optional(),
    /** Blocks inside `cidrs` that stay closed. */
    except: z.array(ipv4Cidr).optional(),
};

function onePeerKind(value: { namespace?: string; pods?: unknown; cidrs?: string[]; except?: string[] }, context: z.RefinementCtx): void {
    if ((value.namespace === undefined) === (value.cidrs === undefined)) {
        context.addIssue({ code: z.ZodIssueCode.custom, message: "give either namespace (and optionally pods: the pods' labels) or cidrs (and optionally except), not both" });
    }
    if (value.pods !== undefined && value.namespace === undefined) context.addIssue({ code: z.ZodIssueCode.custom, path: ["pods"], message: "pods selects pods in namespace; set namespace" });
    if (value.except !== undefined && value.cidrs === undefined) context.addIssue({ code: z.ZodIssueCode.custom, path: ["except"], message: "except narrows cidrs; set cidrs" });
    for (const [index, block] of (value.except ?? []).entries()) {
        const valid = ipv4CidrPrefix(block) !== undefined && (value.cidrs ?? []).every((cidr) => ipv4CidrPrefix(cidr) !== undefined);
        if (valid && !(value.cidrs ?? []).some((cidr) => cidrStrictlyInside(cidr, block))) {
            context.addIssue({ code: z.ZodIssueCode.custom, path: ["except", index], message: `${block} lies inside none of cidrs (${(value.cidrs ?? []).join(", ")}); an ipBlock's except must be a strict subset of its cidr` });
        }
    }
}

/** Who connects to the instances' pods. */
const peerSchema = strictObject(peerFields).superRefine(onePeerKind);
const ports = z.array(port).min(1, "ports needs at least one port");
/** What the instances' pods connect to, and on which ports (TCP; DNS' on UDP too). */
export const endpointSchema = strictObject({ ...peerFields, ports: ports.optional() }).superRefine(onePeerKind);

export const networkSchema = strictObject({
    grafana: peerSchema.optional(),
    tsuru: peerSchema.optional(),
    dns: endpointSchema.optional(),
    apiServer: endpointSchema.optional(),
    alertmanager: endpointSchema.optional(),
    bucket: endpointSchema.optional(),
}).default({});

/** The same, as the broker's settings carry it (resolved by the platform's stack: every port given). */
const resolvedEndpoint = strictObject({ ...peerFields, ports }).superRefine(onePeerKind);
export const resolvedNetworkSchema = strictObject({
    grafana: peerSchema,
    tsuru: peerSchema,
    dns: resolvedEndpoint,
    apiServer: resolvedEndpoint,
    alertmanagers: z.array(resolvedEndpoint),
    bucket: resolvedEndpoint,
});

