/**
 * Reading resource properties the same way under the engine and under the test harness.
 *
 * The engine hands policies the resource's properties wrapped in a proxy that throws on any value unknown
 * during preview; a throw turns the whole policy into an advisory "can't run during preview" note. These
 * helpers read the proxy's plain target instead and let each check skip exactly the values that are unknown.
 */
import * as yaml from "js-yaml";

/** The engine's placeholders for values not known during preview (one per value kind). */
const unknownSentinels: ReadonlySet<string> = new Set([
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", // boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421", // number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", // string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2", // array
    "030794c1-ac77-496b-92df-f27374a8bd58", // asset
    "e48ece36-62e2-4504-bad9-02848725956a", // archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff", // object
]);

/** Exported for tests that simulate a preview. */
export const unknownString = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
export const unknownObject = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff";

/**
 * Where a harness that can see secrets (the mocks-based stack check) lists the property paths that were
 * secret inputs. The engine does not tell analyzers which inputs are secret, so under the engine this is
 * absent and checks fall back to what the engine does expose (additionalSecretOutputs).
 */
export const secretPathsKey: unique symbol = Symbol.for("prometheus-paas/policy/secret-paths") as any;

export type Props = Record<string, any>;

export function isUnknown(value: unknown): boolean {
    return typeof value === "string" && unknownSentinels.has(value);
}

/** True when the value or anything inside it is unknown. */
export function containsUnknown(value: unknown): boolean {
    if (isUnknown(value)) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (isObject(value)) return Object.values(value).some(containsUnknown);
    return false;
}

export function isObject(value: unknown): value is Record<string, any> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The plain object behind the engine's unknown-checking proxy (or the object itself). */
export function plainProps(props: unknown): Props {
    if (props === null || typeof props !== "object") return {};
    const target = (props as any).__getSpecialProxyTarget;
    return (target !== undefined && target !== null && typeof target === "object" ? target : props) as Props;
}

/** Secret input paths, when the evaluation context knows them (see secretPathsKey). */
export function secretPaths(props: unknown): readonly string[] | undefined {
    const plain = plainProps(props);
    const paths = (plain as any)[secretPathsKey];
    return Array.isArray(paths) ? paths : undefined;
}

/** A known string, or undefined (absent, unknown or another type). */
export function str(value: unknown): string | undefined {
    return typeof value === "string" && !isUnknown(value) ? value : undefined;
}

/** A known number (numbers may arrive as strings from some providers), or undefined. */
export function num(value: unknown): number | undefined {
    if (typeof value === "number" && Number.isFinite(value)) return value;
    if (typeof value === "string" && !isUnknown(value) && /^-?[0-9]+(\.[0-9]+)?$/.test(value.trim())) return Number(value);
    return undefined;
}

export function arr(value: unknown): any[] {
    return Array.isArray(value) ? value : [];
}

export function obj(value: unknown): Record<string, any> {
    return isObject(value) ? value : {};
}

export type Parsed<T> = { kind: "ok"; value: T } | { kind: "unknown" } | { kind: "absent" } | { kind: "invalid"; error: string };

/** JSON carried as a string property (IAM documents, ECS container definitions) or already an object. */
export function parseJson<T = unknown>(value: unknown): Parsed<T> {
    if (value === undefined || value === null || value === "") return { kind: "absent" };
    if (isUnknown(value)) return { kind: "unknown" };
    if (typeof value !== "string") return containsUnknown(value) ? { kind: "unknown" } : { kind: "ok", value: value as T };
    try {
        return { kind: "ok", value: JSON.parse(value) as T };
    } catch (error) {
        return { kind: "invalid", error: (error as Error).message };
    }
}

export function parseYaml<T = unknown>(text: unknown): Parsed<T> {
    if (text === undefined || text === null) return { kind: "absent" };
    if (isUnknown(text)) return { kind: "unknown" };
    if (typeof text !== "string") return { kind: "invalid", error: "not a string" };
    try {
        return { kind: "ok", value: yaml.load(text) as T };
    } catch (error) {
        return { kind: "invalid", error: (error as Error).message.split("\n")[0] };
    }
}

const binarySuffixes: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const decimalSuffixes: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };

/** Bytes of a Kubernetes quantity ("512Mi", "1G", "1.5Gi", "1e9"); undefined when unknown or malformed. */
export function quantityBytes(value: unknown): number | undefined {
    if (typeof value === "number") return value;
    const text = str(value)?.trim();
    if (text === undefined) return undefined;
    const match = /^([0-9]+(?:\.[0-9]+)?)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(k|M|G|T|P|E|m)?|[eE]([0-9]+))$/.exec(text);
    if (!match) return undefined;
    const amount = Number(match[1]);
    if (match[2]) return amount * binarySuffixes[match[2]];
    if (match[4]) return amount * 10 ** Number(match[4]);
    return amount * decimalSuffixes[match[3] ?? ""];
}

const prometheusUnits: Record<string, number> = { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40, PB: 2 ** 50, EB: 2 ** 60 };

/** Bytes of a Prometheus size flag value ("384MB": Prometheus units are base 2). */
export function prometheusSizeBytes(value: string): number | undefined {
    const match = /^([0-9]+(?:\.[0-9]+)?)(B|KB|MB|GB|TB|PB|EB)$/.exec(value.trim());
    return match ? Number(match[1]) * prometheusUnits[match[2]] : undefined;
}

const durationUnits: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds of a Prometheus duration ("2h", "1h30m"); undefined when malformed. */
export function durationSeconds(value: string): number | undefined {
    if (!/^([0-9]+(ms|s|m|h|d|w|y))+$/.test(value)) return undefined;
    let seconds = 0;
    for (const [, amount, unit] of value.matchAll(/([0-9]+)(ms|s|m|h|d|w|y)/g)) seconds += Number(amount) * durationUnits[unit];
    return seconds;
}

/** "1536Mi"-style rendering for messages. */
export function formatBytes(bytes: number): string {
    for (const [suffix, factor] of [["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) {
        if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${suffix}`;
    }
    if (bytes >= 2 ** 20) return `${Math.round(bytes / 2 ** 20)}Mi`;
    return `${bytes}B`;
}

/** Text of a string or of a string-like asset (StringAsset: text is a promise); undefined when not readable. */
export async function textOf(value: unknown): Promise<string | undefined> {
    if (typeof value === "string") return isUnknown(value) ? undefined : value;
    if (isObject(value) && "text" in value) {
        const text = await Promise.resolve(value.text);
        return typeof text === "string" ? text : undefined;
    }
    return undefined;
}
