/**
 * What Tsuru sends the broker (tsuru/tsuru service/endpoint.go and payloads.go), in either encoding: form fields
 * with Tsuru's names (lists as repeated keys, `parameters.<key>` flattened with `.`, list items `.0`, a `.` inside
 * a key as `\.`) or JSON with its own field names (`eventID`, `appName`, nested `parameters`).
 */

export type Body = Record<string, unknown>;

/** A form value as a list (repeated keys arrive as arrays, a single key as a string). */
function list(value: unknown): string[] {
    if (value === undefined || value === null || value === "") return [];
    return (Array.isArray(value) ? value : [value]).map(String);
}

function text(value: unknown): string | undefined {
    if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
    return value === undefined || value === null ? undefined : String(value);
}

/** Splits a flattened key on unescaped dots: `a\.b.c` → [`a.b`, `c`]. */
function splitKey(key: string): string[] {
    const parts: string[] = [];
    let current = "";
    for (let index = 0; index < key.length; index++) {
        if (key[index] === "\\" && key[index + 1] === ".") {
            current += ".";
            index++;
        } else if (key[index] === ".") {
            parts.push(current);
            current = "";
        } else {
            current += key[index];
        }
    }
    parts.push(current);
    return parts;
}

/** Turns objects whose keys are 0..n-1 back into lists. */
function restoreLists(value: unknown): unknown {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
    const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, restoreLists(item)] as const);
    const keys = entries.map(([key]) => key);
    if (keys.length > 0 && keys.every((key, index) => key === String(index))) return entries.map(([, item]) => item);
    return Object.fromEntries(entries);
}

/** `parameters.*` form fields (or a JSON `parameters` object) as a nested object. */
export function parametersOf(body: Body, isJson: boolean): Record<string, unknown> {
    if (isJson) {
        const parameters = body.parameters;
        return parameters !== null && typeof parameters === "object" && !Array.isArray(parameters) ? (parameters as Record<string, unknown>) : {};
    }
    const root: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) {
        if (!key.startsWith("parameters.")) continue;
        const path = splitKey(key.slice("parameters.".length));
        let node = root;
        path.forEach((part, index) => {
            if (index === path.length - 1) {
                node[part] = Array.isArray(value) && value.length === 1 ? value[0] : value;
            } else {
                if (node[part] === null || typeof node[part] !== "object") node[part] = {};
                node = node[part] as Record<string, unknown>;
            }
        });
    }
    return restoreLists(root) as Record<string, unknown>;
}

export interface CreateRequest {
    readonly name?: string;
    readonly team?: string;
    readonly plan?: string;
    readonly description: string;
    readonly tags: string[];
    readonly user?: string;
    readonly eventId?: string;
    readonly parameters: Record<string, unknown>;
}

export function createRequest(body: Body, isJson: boolean): CreateRequest {
    return {
        name: text(body.name),
        team: text(body.team),
        plan: text(body.plan),
        description: text(body.description) ?? "",
        tags: list(body.tags),
        user: text(body.user),
        eventId: text(isJson ? body.eventID : body.eventid),
        parameters: parametersOf(body, isJson),
    };
}

export type UpdateRequest = Omit<CreateRequest, "name">;

export function updateRequest(body: Body, isJson: boolean): UpdateRequest {
    const { name: _name, ...rest } = createRequest(body, isJson);
    return rest;
}

export interface BindAppRequest {
    readonly appName?: string;
    readonly appHosts: string[];
    readonly appInternalHosts: string[];
    readonly appPoolName?: string;
    readonly appClusterName?: string;
    readonly user?: string;
    readonly eventId?: string;
    readonly parameters: Record<string, unknown>;
}

export function bindAppRequest(body: Body, isJson: boolean): BindAppRequest {
    const field = (form: string, json: string) => (isJson ? body[json] : body[form]);
    return {
        appName: text(field("app-name", "appName")),
        appHosts: list(field("app-hosts", "appHosts")),
        appInternalHosts: list(field("app-internal-hosts", "appInternalHosts")),
        appPoolName: text(field("app-pool-name", "appPoolName")),
        appClusterName: text(field("app-cluster-name", "appClusterName")),
        user: text(body.user),
        eventId: text(isJson ? body.eventID : body.eventid),
        parameters: parametersOf(body, isJson),
    };
}

export interface BindJobRequest {
    readonly jobName?: string;
    readonly jobPoolName?: string;
    readonly jobClusterName?: string;
}

export function bindJobRequest(body: Body, isJson: boolean): BindJobRequest {
    const field = (form: string, json: string) => (isJson ? body[json] : body[form]);
    return {
        jobName: text(field("job-name", "jobName")),
        jobPoolName: text(field("job-pool-name", "jobPoolName")),
        jobClusterName: text(field("job-cluster-name", "jobClusterName")),
    };
}

/**
 * The namespace of an app's units from `app-internal-hosts` (`tcp://<service>.<namespace>.svc.cluster.local:<port>`,
 * one per port of each Service of the app, web process first).
 */
export function namespaceFromInternalHosts(hosts: readonly string[]): string | undefined {
    for (const host of hosts) {
        const match = /^(?:[a-z]+:\/\/)?[^.\/:]+\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.|:|$)/.exec(host);
        if (match) return match[1];
    }
    return undefined;
}
