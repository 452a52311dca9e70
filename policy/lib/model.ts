/**
 * The one shape every check works on, built from the engine's arguments (or the harness's, which mimic them),
 * and the two policy constructors. Checks are pure functions of these views, so tests call them directly.
 */
import type {
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { arr, plainProps, Props, secretPaths, str } from "./values";

export interface View {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    /** Plain properties: inputs for resource policies, outputs for stack policies; unknowns left as sentinels. */
    readonly props: Props;
    /** Secret input paths when the evaluation context knows them (harness), else undefined (engine). */
    readonly secretPaths?: readonly string[];
    readonly additionalSecretOutputs: readonly string[];
    readonly parentUrn?: string;
    readonly dependencies: readonly string[];
    readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
}

export interface Violation {
    readonly message: string;
    /** Resource the violation is about (stack policies); resource policies always report their own. */
    readonly urn?: string;
}

export type ResourceCheck = (view: View) => string[] | Promise<string[]>;
export type StackCheck = (graph: StackGraph) => Violation[] | Promise<Violation[]>;

export interface PolicyMeta {
    readonly name: string;
    readonly description: string;
    readonly enforcementLevel: EnforcementLevel;
    /** What to change when it fires; also the README's "how to fix" column. */
    readonly remediationSteps: string;
    readonly severity?: "low" | "medium" | "high" | "critical";
}

export type PaasResourcePolicy = ResourceValidationPolicy & PolicyMeta & { readonly check: ResourceCheck; readonly scope: "resource" };
export type PaasStackPolicy = StackValidationPolicy & PolicyMeta & { readonly check: StackCheck; readonly scope: "stack" };
export type PaasPolicy = PaasResourcePolicy | PaasStackPolicy;

export function viewOfArgs(args: Pick<ResourceValidationArgs, "type" | "name" | "urn" | "props" | "opts">): View {
    return {
        type: args.type,
        name: args.name,
        urn: args.urn,
        props: plainProps(args.props),
        secretPaths: secretPaths(args.props),
        additionalSecretOutputs: [...arr(args.opts?.additionalSecretOutputs)],
        parentUrn: args.opts?.parent || undefined,
        dependencies: [],
        propertyDependencies: {},
    };
}

export function viewOfStackResource(resource: PolicyResource): View {
    const propertyDependencies: Record<string, string[]> = {};
    for (const [key, dependencies] of Object.entries(resource.propertyDependencies ?? {})) {
        propertyDependencies[key] = dependencies.map((dependency) => dependency.urn);
    }
    return {
        type: resource.type,
        name: resource.name,
        urn: resource.urn,
        props: plainProps(resource.props),
        secretPaths: secretPaths(resource.props),
        additionalSecretOutputs: [...arr(resource.opts?.additionalSecretOutputs)],
        parentUrn: resource.parent?.urn ?? (resource.opts?.parent || undefined),
        dependencies: (resource.dependencies ?? []).map((dependency) => dependency.urn),
        propertyDependencies,
    };
}

export function resourcePolicy(meta: PolicyMeta, check: ResourceCheck): PaasResourcePolicy {
    return {
        ...meta,
        scope: "resource",
        check,
        validateResource: async (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            for (const message of await check(viewOfArgs(args))) reportViolation(message);
        },
    };
}

export function stackPolicy(meta: PolicyMeta, check: StackCheck): PaasStackPolicy {
    return {
        ...meta,
        scope: "stack",
        check,
        validateStack: async (args: StackValidationArgs, reportViolation: ReportViolation) => {
            const graph = new StackGraph(args.resources.map(viewOfStackResource));
            for (const violation of await check(graph)) reportViolation(violation.message, violation.urn);
        },
    };
}

/** The stack's resources with the links between them (property dependencies first, values as a fallback). */
export class StackGraph {
    private readonly byUrn = new Map<string, View>();

    constructor(readonly resources: readonly View[]) {
        for (const resource of resources) this.byUrn.set(resource.urn, resource);
    }

    get(urn: string | undefined): View | undefined {
        return urn === undefined ? undefined : this.byUrn.get(urn);
    }

    ofType(...types: string[]): View[] {
        return this.resources.filter((resource) => types.includes(resource.type));
    }

    /**
     * Whether `from`'s property `prop` refers to `to`: a recorded property dependency (how the engine and the
     * mocks see `bucket: created.id`), or, for resources built from plain values, an equal identifier.
     */
    refersTo(from: View, prop: string, to: View, value?: unknown): boolean {
        if ((from.propertyDependencies[prop] ?? []).includes(to.urn)) return true;
        const candidates = identifiers(to);
        const values = value === undefined ? [from.props[prop]] : [value];
        return values.flatMap((v) => (Array.isArray(v) ? v : [v])).some((v) => {
            const text = str(v);
            return text !== undefined && candidates.includes(text);
        });
    }
}

/** Values by which other resources can name this one. */
export function identifiers(view: View): string[] {
    const props = view.props;
    return [props.arn, props.id, props.bucket, props.name, props.family, props.metadata?.name]
        .map((value) => str(value))
        .filter((value): value is string => value !== undefined && value !== "");
}

/** "StatefulSet 'prometheus-payments'" for messages. */
export function describe(view: Pick<View, "type" | "name">): string {
    const kind = view.type.split(":").pop() ?? view.type;
    return `${kind} '${view.name}'`;
}
