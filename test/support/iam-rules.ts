/**
 * IAM's own rules for policy documents, written down independently of the program (from the IAM JSON policy
 * element reference and grammar, and the Service Authorization Reference), so tests can hold every document the
 * stacks register against what IAM would accept.
 */

export type DocumentKind = "permission" | "trust" | "resource";

/** The only policy language version the program writes; IAM's previous one (2008-10-17) lacks policy variables. */
export const policyVersion = "2012-10-17";

const statementKeys = ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

/** IAM's condition operators (without the IfExists suffix and the ForAllValues:/ForAnyValue: set prefixes). */
export const conditionOperators = [
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
];

/** Actions a role trust policy may grant (STS); anything else makes IAM reject the policy. */
export const trustActions = ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity", "sts:SetContext"];

/** Quotas on document size, in characters without white space (IAM and STS quotas). */
export const sizeLimits: Readonly<Record<DocumentKind, number>> = { permission: 10_240, trust: 2_048, resource: 20_480 };

/**
 * Actions the Service Authorization Reference lists without a resource type: only these may (and must) use
 * Resource "*". Any other action on "*" could have been scoped.
 */
export const actionsWithoutResourceType: ReadonlySet<string> = new Set([
    // ECR: the login token is account-wide.
    "ecr:GetAuthorizationToken",
    // ECS: task definitions carry no cluster; ListTasks is scoped by the ecs:cluster condition instead.
    "ecs:DescribeTaskDefinition", "ecs:ListTasks",
    // EC2 Describe* calls.
    "ec2:DescribeInstances", "ec2:DescribeTransitGatewayAttachments", "ec2:DescribeSpotFleetRequests",
    // CloudWatch reads and the tagging API.
    "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "tag:GetResources",
    "iam:ListAccountAliases",
    // Per-namespace discovery reads YACE documents.
    "apigateway:GET", "autoscaling:DescribeAutoScalingGroups", "shield:ListProtections", "storagegateway:ListGateways",
    "storagegateway:ListTagsForResource", "aps:ListWorkspaces", "dms:DescribeReplicationInstances", "dms:DescribeReplicationTasks",
]);

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
const isNonEmptyStrings = (value: unknown) => list(value).length > 0 && list(value).every((item) => typeof item === "string" && item !== "");

const actionPattern = /^[a-z0-9-]+:[A-Za-z0-9*?]+$/;
const arnPattern = /^arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12})?:.+$/;
const conditionKeyPattern = /^[A-Za-z0-9-]+:[A-Za-z0-9_./-]+$/;

function operatorProblem(operator: string): string | undefined {
    const withoutSet = operator.replace(/^(ForAllValues|ForAnyValue):/, "");
    const base = withoutSet.replace(/IfExists$/, "");
    if (!conditionOperators.includes(base)) return `unknown condition operator '${operator}'`;
    if (base === "Null" && withoutSet !== base) return "Null has no IfExists form";
    return undefined;
}

function principalProblems(principal: unknown, where: string): string[] {
    if (principal === "*") return [];
    if (!isObject(principal) || Object.keys(principal).length === 0) return [`${where}: Principal must be "*" or an object of AWS, Service, Federated or CanonicalUser`];
    const problems: string[] = [];
    for (const [type, value] of Object.entries(principal)) {
        if (!["AWS", "Service", "Federated", "CanonicalUser"].includes(type)) problems.push(`${where}: unknown principal type '${type}'`);
        if (!isNonEmptyStrings(value)) problems.push(`${where}: principal ${type} must be a string or a non-empty list of strings`);
        if (type === "Service" && !list(value).every((service) => /^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(String(service)))) {
            problems.push(`${where}: service principal ${JSON.stringify(value)} is not a <service>.amazonaws.com name`);
        }
    }
    return problems;
}

function conditionProblems(condition: unknown, where: string): string[] {
    if (!isObject(condition) || Object.keys(condition).length === 0) return [`${where}: Condition must be a non-empty object of operators`];
    const problems: string[] = [];
    for (const [operator, block] of Object.entries(condition)) {
        const problem = operatorProblem(operator);
        if (problem) problems.push(`${where}: ${problem}`);
        if (!isObject(block) || Object.keys(block).length === 0) {
            problems.push(`${where}: ${operator} needs an object of condition keys`);
            continue;
        }
        for (const [key, value] of Object.entries(block)) {
            if (!conditionKeyPattern.test(key)) problems.push(`${where}: condition key '${key}' is not <service>:<key>`);
            if (!isNonEmptyStrings(value)) problems.push(`${where}: ${operator} ${key} must be a string or a non-empty list of strings`);
            if (/^(Bool|Null)/.test(operator.replace(/^For(All|Any)Values?:/, "")) && !list(value).every((item) => item === "true" || item === "false")) {
                problems.push(`${where}: ${operator} ${key} takes "true" or "false"`);
            }
        }
    }
    return problems;
}

/** Problems IAM would report for a policy document of the given kind (empty when IAM accepts it). */
export function iamDocumentProblems(kind: DocumentKind, text: string): string[] {
    let document: unknown;
    try {
        document = JSON.parse(text);
    } catch (error) {
        return [`not JSON: ${String(error)}`];
    }
    if (!isObject(document)) return ["a policy document is a JSON object"];
    const problems: string[] = [];
    for (const key of Object.keys(document).filter((candidate) => !["Version", "Id", "Statement"].includes(candidate))) problems.push(`unknown top-level element '${key}'`);
    if (document.Version !== policyVersion) problems.push(`Version must be "${policyVersion}" (got ${JSON.stringify(document.Version)})`);
    const statements = document.Statement === undefined ? [] : list(document.Statement);
    if (statements.length === 0) problems.push("Statement must hold at least one statement");
    const size = text.replace(/\s/g, "").length;
    if (size > sizeLimits[kind]) problems.push(`${size} characters without white space; a ${kind} policy allows ${sizeLimits[kind]}`);
    const sids = new Set<string>();
    statements.forEach((statement, index) => {
        const where = `Statement[${index}]`;
        if (!isObject(statement)) {
            problems.push(`${where} must be an object`);
            return;
        }
        for (const key of Object.keys(statement).filter((candidate) => !statementKeys.includes(candidate))) problems.push(`${where}: unknown element '${key}'`);
        const has = (key: string) => statement[key] !== undefined;
        if (has("Sid")) {
            const sid = String(statement.Sid);
            if (!/^[A-Za-z0-9]*$/.test(sid)) problems.push(`${where}: Sid '${sid}' may hold only letters and digits`);
            if (sids.has(sid)) problems.push(`${where}: duplicate Sid '${sid}'`);
            sids.add(sid);
        }
        if (statement.Effect !== "Allow" && statement.Effect !== "Deny") problems.push(`${where}: Effect must be "Allow" or "Deny"`);
        if (has("Action") === has("NotAction")) problems.push(`${where}: needs exactly one of Action or NotAction`);
        const actions = list(statement.Action ?? statement.NotAction ?? []);
        if (!isNonEmptyStrings(actions)) problems.push(`${where}: Action must be a string or a non-empty list of strings`);
        for (const action of actions.filter((candidate) => candidate !== "*" && !actionPattern.test(String(candidate)))) {
            problems.push(`${where}: action '${String(action)}' is not <service>:<action>`);
        }
        const resources = list(statement.Resource ?? statement.NotResource ?? []);
        for (const resource of resources.filter((candidate) => candidate !== "*" && !arnPattern.test(String(candidate)))) {
            problems.push(`${where}: resource '${String(resource)}' is not "*" or an ARN`);
        }
        if (has("Condition")) problems.push(...conditionProblems(statement.Condition, where));
        switch (kind) {
            case "permission":
                if (has("Principal") || has("NotPrincipal")) problems.push(`${where}: an identity-based policy names no Principal (it applies to its holder)`);
                if (has("Resource") === has("NotResource")) problems.push(`${where}: needs exactly one of Resource or NotResource`);
                break;
            case "trust":
                if (has("Resource") || has("NotResource")) problems.push(`${where}: a trust policy has no Resource (IAM: MalformedPolicyDocument, Has prohibited field Resource)`);
                if (!has("Principal") || has("NotPrincipal")) problems.push(`${where}: a trust policy needs a Principal (and no NotPrincipal)`);
                for (const action of actions.filter((candidate) => !trustActions.includes(String(candidate)))) problems.push(`${where}: '${String(action)}' is not an STS action a trust policy may grant`);
                break;
            case "resource":
                if (has("Principal") === has("NotPrincipal")) problems.push(`${where}: a resource-based policy needs exactly one of Principal or NotPrincipal`);
                if (has("Resource") === has("NotResource")) problems.push(`${where}: needs exactly one of Resource or NotResource`);
                break;
        }
        if (has("Principal")) problems.push(...principalProblems(statement.Principal, where));
    });
    return problems;
}

/** Least privilege beyond IAM's grammar: no wildcard or NotAction grants, and Resource "*" only where IAM cannot scope. */
export function leastPrivilegeProblems(text: string): string[] {
    const document = JSON.parse(text) as { Statement: Record<string, unknown>[] };
    const problems: string[] = [];
    for (const statement of list(document.Statement) as Record<string, unknown>[]) {
        if (statement.Effect !== "Allow") continue;
        if (statement.NotAction !== undefined) problems.push(`Allow with NotAction ${JSON.stringify(statement.NotAction)}`);
        const resources = list(statement.Resource ?? []).map(String);
        for (const action of list(statement.Action ?? []).map(String)) {
            if (/[*?]/.test(action)) problems.push(`wildcard action ${action}`);
            if (resources.includes("*") && !actionsWithoutResourceType.has(action)) problems.push(`${action} on Resource "*" although IAM can scope it`);
        }
    }
    return problems;
}
