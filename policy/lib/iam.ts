/** IAM policy documents wherever this program can put them, parsed into statements. */
import { describe, View } from "./model";
import { arr, isObject, parseJson, str } from "./values";

export interface Statement {
    readonly sid?: string;
    readonly effect: string;
    readonly actions: readonly string[];
    readonly notActions: readonly string[];
    readonly resources: readonly string[];
    readonly notResources: readonly string[];
    readonly hasResource: boolean;
}

export interface PolicyDocument {
    /** "RolePolicy 'compactor-s3'" or "Role 'task' inline policy 's3'". */
    readonly label: string;
    readonly statements: readonly Statement[];
    /** A trust policy (who may assume the role) rather than a permission policy. */
    readonly trust: boolean;
}

export const iamTypes = {
    role: "aws:iam/role:Role",
    policy: "aws:iam/policy:Policy",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    userPolicy: "aws:iam/userPolicy:UserPolicy",
    groupPolicy: "aws:iam/groupPolicy:GroupPolicy",
    rolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    policyAttachment: "aws:iam/policyAttachment:PolicyAttachment",
} as const;

const stringsOf = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((v) => str(v)).filter((v): v is string => v !== undefined);

export function statementsOf(document: unknown): Statement[] {
    if (!isObject(document)) return [];
    const raw = Array.isArray(document.Statement) ? document.Statement : isObject(document.Statement) ? [document.Statement] : [];
    return raw.filter(isObject).map((statement) => ({
        sid: str(statement.Sid),
        effect: str(statement.Effect) ?? "",
        actions: stringsOf(statement.Action),
        notActions: stringsOf(statement.NotAction),
        resources: stringsOf(statement.Resource),
        notResources: stringsOf(statement.NotResource),
        hasResource: statement.Resource !== undefined,
    }));
}

/** Permission (and trust) documents a resource carries; unknown or unparseable documents are left out. */
export function documentsOf(view: View): PolicyDocument[] {
    const documents: PolicyDocument[] = [];
    const add = (label: string, value: unknown, trust = false) => {
        const parsed = parseJson(value);
        if (parsed.kind === "ok") documents.push({ label, statements: statementsOf(parsed.value), trust });
    };
    switch (view.type) {
        case iamTypes.policy:
        case iamTypes.rolePolicy:
        case iamTypes.userPolicy:
        case iamTypes.groupPolicy:
            add(describe(view), view.props.policy);
            break;
        case iamTypes.role:
            add(`${describe(view)} assume-role policy`, view.props.assumeRolePolicy, true);
            for (const inline of arr(view.props.inlinePolicies).filter(isObject)) {
                add(`${describe(view)} inline policy '${str(inline.name) ?? "(unnamed)"}'`, inline.policy);
            }
            break;
    }
    return documents;
}

/** IAM action pattern match (case-insensitive, `*` and `?` wildcards). */
export function actionMatches(pattern: string, action: string): boolean {
    const regex = new RegExp(`^${pattern.split("").map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")}$`, "i");
    return regex.test(action);
}

export function allows(statement: Statement, action: string): boolean {
    if (statement.effect !== "Allow") return false;
    if (statement.notActions.length > 0) return !statement.notActions.some((pattern) => actionMatches(pattern, action));
    return statement.actions.some((pattern) => actionMatches(pattern, action));
}

/** Managed policies that grant wildcard actions. */
export function isBroadManagedPolicy(arn: string): boolean {
    return /^arn:aws[a-z-]*:iam::aws:policy\/(.*\/)?(AdministratorAccess|PowerUserAccess|[A-Za-z0-9_]*FullAccess[A-Za-z0-9_]*)$/.test(arn);
}
