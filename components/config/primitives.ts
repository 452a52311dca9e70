/** The building blocks of the config schemas: value rules shared by every section. No Pulumi imports. */
import { z } from "zod";
import { parseDurationSeconds, parseMiB } from "../units";

export const projectName = "prometheus-paas";

export const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const prometheusLabelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function strictObject<T extends z.ZodRawShape>(shape: T) {
    return z.object(shape).strict(`allowed keys: ${Object.keys(shape).join(", ")}`);
}

export function dnsLabel(what: string, maxLength = 63) {
    return z
        .string()
        .max(maxLength, `${what} must be at most ${maxLength} characters`)
        .regex(dns1123Label, `${what} must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`);
}

/** A DNS-1123 subdomain (StorageClass and most other Kubernetes object names). */
export function dnsSubdomain(what: string) {
    return z
        .string()
        .max(253, `${what} must be at most 253 characters`)
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, `${what} must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'`);
}

export const quantity = (what: string) =>
    z.string().refine((value) => parseMiB(value) !== undefined, `${what} must be a Kubernetes binary quantity such as 512Mi or 2Gi`);

export const duration = (what: string) =>
    z.string().refine((value) => parseDurationSeconds(value) !== undefined, `${what} must be a Prometheus duration such as 30s, 6h or 30d`);

export const labelName = z
    .string()
    .regex(prometheusLabelName, "must be a Prometheus label name matching [a-zA-Z_][a-zA-Z0-9_]*")
    .refine((name) => !name.startsWith("__"), "label names starting with '__' are reserved by Prometheus");

export const cpuQuantity = z.string().regex(/^([0-9]+m|[0-9]+(\.[0-9]+)?)$/, "cpu must be a Kubernetes CPU quantity such as 250m or 2");

export const metricsPath = z.string().startsWith("/", "path must start with '/'").default("/metrics");
export const metricsScheme = z.enum(["http", "https"]).default("http");

/** ECS names (cluster, task definition family, container): ECS' own rule. */
export const ecsName = (what: string) => z.string().regex(/^[a-zA-Z0-9_-]{1,255}$/, `${what} must be 1-255 letters, digits, '-' or '_' (ECS' rule)`);

export const awsRegion = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$/, "must be an AWS region such as us-east-1");

/** The prefix length of an IPv4 CIDR block, or undefined when it is not one. */
export function ipv4CidrPrefix(cidr: string): number | undefined {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!match || match.slice(1, 5).some((octet) => Number(octet) > 255) || Number(match[5]) > 32) return undefined;
    return Number(match[5]);
}

function ipv4Number(cidr: string): number {
    return cidr.split("/")[0].split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

/** Whether IPv4 block `inner` is a strict subset of block `outer` (both valid CIDRs), as an ipBlock's except must be. */
export function cidrStrictlyInside(outer: string, inner: string): boolean {
    const outerPrefix = ipv4CidrPrefix(outer)!;
    const innerPrefix = ipv4CidrPrefix(inner)!;
    const size = 2 ** (32 - outerPrefix);
    return innerPrefix > outerPrefix && Math.floor(ipv4Number(inner) / size) === Math.floor(ipv4Number(outer) / size);
}

export const ipv4Cidr = z.string().refine((cidr) => ipv4CidrPrefix(cidr) !== undefined, "must be an IPv4 CIDR block such as 10.20.0.0/16");

export const alertmanagerUrls = (key: string) => z.array(z.string().url(`${key} entries must be URLs such as http://alertmanager:9093`));

/** Pulumi.yaml declares `ecs`, `yace`, `tsuru` and `broker` with default {}: an empty section means the feature is off. */
export const absentWhenEmpty = (value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0 ? undefined : value;

export function exactlyOneOf(first: string, second: string) {
    return (value: Record<string, unknown>) => (value[first] === undefined) !== (value[second] === undefined);
}
