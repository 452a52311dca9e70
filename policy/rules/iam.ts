/** IAM least privilege for the Thanos components' roles. */
import { allows, documentsOf, iamTypes, isBroadManagedPolicy, PolicyDocument, Statement } from "../lib/iam";
import { describe, resourcePolicy, stackPolicy, StackGraph, View, Violation } from "../lib/model";
import { arr, obj, str } from "../lib/values";
import { ecsTaskDefinitionType, isCompactor, workloadOf } from "../lib/workloads";

export const noWildcardActions = resourcePolicy(
    {
        name: "iam-no-wildcard-actions",
        description: "IAM policies never allow wildcard actions (\"*\", \"s3:*\", \"s3:Get*\", NotAction) nor attach *FullAccess/Administrator managed policies.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "List the exact actions each component needs (sidecar: s3:ListBucket, s3:GetObject, s3:PutObject; store: s3:ListBucket, s3:GetObject; compactor: those plus s3:DeleteObject).",
    },
    (view) => {
        const messages: string[] = [];
        for (const document of documentsOf(view)) {
            for (const statement of document.statements.filter((s) => s.effect === "Allow")) {
                const wildcards = statement.actions.filter((action) => action.includes("*") || action.includes("?"));
                if (wildcards.length > 0) {
                    messages.push(`${document.label} allows wildcard action(s) ${wildcards.map((a) => `"${a}"`).join(", ")}${statement.sid ? ` (statement ${statement.sid})` : ""}: list the exact actions instead.`);
                }
                if (statement.notActions.length > 0) {
                    messages.push(`${document.label} allows everything except ${statement.notActions.join(", ")} (NotAction with Allow)${statement.sid ? ` in statement ${statement.sid}` : ""}: list the exact actions instead.`);
                }
            }
        }
        const managed: string[] = [];
        if (view.type === iamTypes.role) managed.push(...arr(view.props.managedPolicyArns).map((arn) => str(arn) ?? ""));
        if (view.type === iamTypes.rolePolicyAttachment || view.type === iamTypes.policyAttachment) managed.push(str(view.props.policyArn) ?? "");
        for (const arn of managed.filter(isBroadManagedPolicy)) {
            messages.push(`${describe(view)} attaches the managed policy ${arn}, which grants wildcard actions: attach a policy that lists the exact actions instead.`);
        }
        return messages;
    },
);

const s3Arn = /^arn:aws[a-z-]*:s3:::(.*)$/;

function s3Actions(statement: Statement): string[] {
    return statement.actions.filter((action) => action === "*" || /^s3:/i.test(action));
}

export const s3ScopedToBucket = resourcePolicy(
    {
        name: "iam-s3-scoped-to-bucket",
        description: "IAM statements that allow S3 actions name the bucket (arn:aws:s3:::<bucket> and <bucket>/*), never \"*\" or a wildcard bucket.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Use the Thanos bucket's ARN (ThanosBucket.arn) and `${arn}/*` as Resource for every S3 statement.",
    },
    (view) => {
        const messages: string[] = [];
        for (const document of documentsOf(view).filter((d) => !d.trust)) {
            for (const statement of document.statements.filter((s) => s.effect === "Allow")) {
                const actions = statement.notActions.length > 0 ? ["(NotAction)"] : s3Actions(statement);
                if (actions.length === 0) continue;
                const label = `${document.label}${statement.sid ? ` statement ${statement.sid}` : ""}`;
                if (statement.notResources.length > 0 || !statement.hasResource) {
                    messages.push(`${label} allows ${actions.join(", ")} on every resource except a list (NotResource): name the Thanos bucket ARN and its /* objects in Resource.`);
                    continue;
                }
                const broad = statement.resources.filter((resource) => {
                    if (resource === "*") return true;
                    const match = s3Arn.exec(resource);
                    return match !== null && /[*?]/.test(match[1].split("/")[0]);
                });
                if (broad.length > 0) {
                    messages.push(`${label} allows ${actions.join(", ")} on ${broad.map((r) => `"${r}"`).join(", ")}: scope it to the Thanos bucket, Resource [bucket ARN, bucket ARN + "/*"].`);
                }
            }
        }
        return messages;
    },
);

/** Roles a policy document reaches: inline on a role, a RolePolicy, or a managed Policy attached to roles. */
function rolesOf(graph: StackGraph, holder: View): View[] | "not-a-role" {
    const roles = graph.ofType(iamTypes.role);
    switch (holder.type) {
        case iamTypes.role:
            return [holder];
        case iamTypes.rolePolicy:
            return roles.filter((role) => graph.refersTo(holder, "role", role));
        case iamTypes.policy: {
            const attached = new Set<View>();
            for (const attachment of graph.ofType(iamTypes.rolePolicyAttachment)) {
                if (graph.refersTo(attachment, "policyArn", holder)) roles.filter((role) => graph.refersTo(attachment, "role", role)).forEach((role) => attached.add(role));
            }
            for (const attachment of graph.ofType(iamTypes.policyAttachment)) {
                if (graph.refersTo(attachment, "policyArn", holder)) roles.filter((role) => graph.refersTo(attachment, "roles", role)).forEach((role) => attached.add(role));
            }
            for (const role of roles) {
                if (graph.refersTo(role, "managedPolicyArns", holder)) attached.add(role);
            }
            return [...attached];
        }
        default:
            return "not-a-role";
    }
}

/** Which workloads run with a role: ECS tasks (taskRoleArn) and Kubernetes pods through IRSA service accounts. */
function usersOf(graph: StackGraph, role: View): { compactor: boolean; label: string }[] {
    const users: { compactor: boolean; label: string }[] = [];
    for (const task of graph.ofType(ecsTaskDefinitionType)) {
        const workload = workloadOf(task);
        if (graph.refersTo(task, "taskRoleArn", role)) users.push({ compactor: workload?.containers.some(isCompactor) ?? false, label: describe(task) });
        if (graph.refersTo(task, "executionRoleArn", role)) users.push({ compactor: false, label: `${describe(task)} (execution role)` });
    }
    for (const account of graph.ofType("kubernetes:core/v1:ServiceAccount")) {
        const annotation = obj(account.props.metadata?.annotations)["eks.amazonaws.com/role-arn"];
        if (!graph.refersTo(account, "metadata", role, annotation) && !(str(annotation) !== undefined && str(annotation) === str(role.props.arn))) continue;
        const accountName = str(account.props.metadata?.name);
        for (const view of graph.resources) {
            const workload = workloadOf(view);
            if (workload?.platform === "kubernetes" && workload.serviceAccountName === accountName) {
                users.push({ compactor: workload.containers.some(isCompactor), label: workload.label });
            }
        }
    }
    return users;
}

const deleteActions = ["s3:DeleteObject", "s3:DeleteObjectVersion"];

function grantsDelete(document: PolicyDocument): string[] {
    return deleteActions.filter((action) => document.statements.some((statement) => allows(statement, action)));
}

export const deleteOnlyCompactor = stackPolicy(
    {
        name: "iam-s3-delete-only-compactor",
        description: "Only the Thanos compactor's task role may delete objects (s3:DeleteObject); sidecar, store and query roles may not.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Grant s3:DeleteObject only in a policy attached to a role used solely by the compactor task; give sidecar/store roles ListBucket/GetObject(/PutObject).",
    },
    (graph) => {
        const violations: Violation[] = [];
        const holders = graph.resources.filter((view) => [iamTypes.role, iamTypes.rolePolicy, iamTypes.policy, iamTypes.userPolicy, iamTypes.groupPolicy].includes(view.type as any));
        for (const holder of holders) {
            for (const document of documentsOf(holder).filter((d) => !d.trust)) {
                const granted = grantsDelete(document);
                if (granted.length === 0) continue;
                const roles = rolesOf(graph, holder);
                const what = `${document.label} allows ${granted.join(", ")}`;
                if (roles === "not-a-role") {
                    violations.push({ urn: holder.urn, message: `${what} to a user or group: only the Thanos compactor's task role may delete objects; remove the grant.` });
                    continue;
                }
                if (roles.length === 0) {
                    violations.push({ urn: holder.urn, message: `${what} but is not attached to the compactor's task role in this stack: attach it only to the role of the compactor task, or drop the delete actions.` });
                    continue;
                }
                for (const role of roles) {
                    const users = usersOf(graph, role);
                    const others = users.filter((user) => !user.compactor);
                    if (users.length > 0 && others.length === 0) continue;
                    violations.push({
                        urn: holder.urn,
                        message:
                            `${what} through ${describe(role)}, which ${users.length === 0 ? "no Thanos compactor task uses" : `is also used by ${others.map((user) => user.label).join(", ")}`}: ` +
                            `only the compactor deletes blocks. Give the compactor its own task role with the delete grant, and sidecar/store roles s3:ListBucket, s3:GetObject (and s3:PutObject for sidecars).`,
                    });
                }
            }
        }
        return violations;
    },
);
