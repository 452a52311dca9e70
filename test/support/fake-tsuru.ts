// A strict in-process Tsuru API for the service-registration routes (shared/reference/tsuru-api.md §A),
// with fault injection. Node's http only, so engine tests can also run it as a separate process
// (see fake-tsuru-server.ts and its /__fake/* control routes).
import * as http from "http";
import { AddressInfo } from "net";
import { randomBytes } from "crypto";

/** What a fault does to the request it catches. */
export type Fault =
    | { kind: "status"; status: number; body?: string }
    | { kind: "hang" }
    | { kind: "reset" }
    /** Tsuru handles the request, but the answer is replaced (a gateway timing out after the fact). */
    | { kind: "lost"; status?: number };

export interface FaultRule {
    fault: Fault;
    /** Only requests with this method (any when omitted). */
    method?: string;
    /** Only requests whose path, without the `/1.0` prefix, matches (any when omitted). */
    path?: RegExp;
    /** How many requests it catches; `Infinity` for endless (default 1). */
    times?: number;
}

/** Mutable fault injection: tests push rules or set a latency. */
export interface Faults {
    rules: FaultRule[];
    /** Latency added before every answer, in ms. */
    delayMs: number;
}

export interface FakeService {
    id: string;
    username: string;
    password: string;
    endpoints: Record<string, string>;
    ownerTeam: string;
    teams: string[];
    multiCluster: boolean;
    encoding: "form" | "json";
    doc: string;
    /** Service instances: a service with instances cannot be deleted. */
    instances: string[];
}

export interface RecordedRequest {
    method: string;
    /** Path as requested, prefix included. */
    path: string;
    authorization: string | undefined;
    contentType: string | undefined;
    fields: Record<string, string>;
}

export interface FakeTsuruOptions {
    /** Port to listen on (0 = any free port). */
    port?: number;
    /** The valid token (random when omitted). */
    token?: string;
    /** Teams the token's user may act for (default `["admin"]`). */
    teams?: string[];
    /** Further tokens and their teams. */
    extraTokens?: Record<string, string[]>;
}

export interface FakeTsuru {
    url: string;
    token: string;
    services: Map<string, FakeService>;
    faults: Faults;
    requests: RecordedRequest[];
    /** Adds a fault rule and returns it. */
    inject(fault: Fault, match?: { method?: string; path?: RegExp; times?: number }): FaultRule;
    close(): Promise<void>;
}

const ID_PATTERN = /^[a-z][a-z0-9-]*$/;
const MAX_ID_LENGTH = 40;

class HttpError extends Error {
    constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
        super(message);
    }
}

export async function startFakeTsuru(opts: FakeTsuruOptions = {}): Promise<FakeTsuru> {
    const token = opts.token ?? `fake-${randomBytes(12).toString("hex")}`;
    const tokens = new Map<string, string[]>([[token, opts.teams ?? ["admin"]]]);
    for (const [t, teams] of Object.entries(opts.extraTokens ?? {})) {
        tokens.set(t, teams);
    }
    const services = new Map<string, FakeService>();
    const faults: Faults = { rules: [], delayMs: 0 };
    const requests: RecordedRequest[] = [];

    const server = http.createServer((req, res) => {
        handle(req, res).catch((err) => {
            if (!res.headersSent) {
                res.writeHead(500, { "Content-Type": "text/plain" });
            }
            res.end(`fake tsuru internal error: ${err}\n`);
        });
    });

    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const raw = await readBody(req);
        const url = new URL(req.url ?? "/", "http://fake");
        const method = req.method ?? "GET";

        if (url.pathname.startsWith("/__fake/")) {
            return control(method, url.pathname, raw, res);
        }

        const contentType = req.headers["content-type"];
        let fields: Record<string, string> = {};
        let parseError: string | undefined;
        try {
            fields = parseFields(contentType, raw);
        } catch (err) {
            parseError = (err as Error).message;
        }
        requests.push({ method, path: url.pathname, authorization: req.headers.authorization, contentType, fields });

        if (faults.delayMs > 0) {
            await sleep(faults.delayMs);
        }
        const route = url.pathname.startsWith("/1.0/") ? url.pathname.slice(4) : url.pathname;
        const fault = takeFault(method, route);
        if (fault?.kind === "hang") {
            return; // never answered; close() tears the socket down
        }
        if (fault?.kind === "reset") {
            req.socket.destroy();
            return;
        }
        if (fault?.kind === "status") {
            return send(res, fault.status, fault.body ?? `injected fault ${fault.status}\n`);
        }

        try {
            const teams = authenticate(req.headers.authorization);
            if (parseError) {
                throw new HttpError(400, parseError);
            }
            const { status, body, type } = dispatch(method, route, fields, teams);
            if (fault?.kind === "lost") {
                return send(res, fault.status ?? 504, "Gateway Timeout\n");
            }
            send(res, status, body, type);
        } catch (err) {
            if (err instanceof HttpError) {
                return send(res, err.status, `${err.message}\n`, "text/plain", err.headers);
            }
            throw err;
        }
    }

    function takeFault(method: string, route: string): Fault | undefined {
        for (const rule of faults.rules) {
            const left = rule.times ?? 1;
            if (left <= 0) continue;
            if (rule.method && rule.method.toUpperCase() !== method) continue;
            if (rule.path && !rule.path.test(route)) continue;
            rule.times = left - 1;
            return rule.fault;
        }
        return undefined;
    }

    function authenticate(header: string | undefined): string[] {
        const m = /^bearer\s+(\S+)\s*$/i.exec(header ?? "");
        const teams = m ? tokens.get(m[1]) : undefined;
        if (!teams) {
            throw new HttpError(401, "You must provide a valid Authorization header",
                { "WWW-Authenticate": 'Bearer realm="tsuru" scope="tsuru"' });
        }
        return teams;
    }

    function dispatch(method: string, route: string, f: Record<string, string>, teams: string[]):
        { status: number; body: string; type?: string } {
        const parts = route.split("/").filter((p) => p !== "").map(decodeURIComponent);
        if (parts[0] !== "services") {
            throw new HttpError(404, "not found");
        }
        if (parts.length === 1) {
            if (method === "POST") return createService(f, teams);
            if (method === "GET") {
                const mine = [...services.values()].filter((s) => s.teams.some((t) => teams.includes(t)));
                return json(200, mine.map((s) => ({ service: s.id, instances: s.instances })));
            }
            throw new HttpError(405, "method not allowed");
        }
        const svc = services.get(parts[1]);
        if (parts.length === 2) {
            if (method === "PUT") return updateService(parts[1], svc, f, teams);
            if (method === "DELETE") return deleteService(svc, teams);
            if (method === "GET") {
                const s = mustExist(svc);
                return json(200, s.instances.map((name) => ({ Name: name, ServiceName: s.id, Info: {} })));
            }
            throw new HttpError(405, "method not allowed");
        }
        if (parts.length === 3 && parts[2] === "doc") {
            const s = mustExist(svc);
            if (method === "GET") return { status: 200, body: s.doc, type: "text/plain" };
            if (method === "PUT") {
                mustAdminister(s, teams);
                s.doc = f.doc ?? "";
                return { status: 200, body: "" };
            }
            throw new HttpError(405, "method not allowed");
        }
        if (parts.length === 3 && parts[2] === "plans" && method === "GET") {
            mustExist(svc);
            return json(200, []);
        }
        if (parts.length === 4 && parts[2] === "team") {
            const s = mustExist(svc);
            mustAdminister(s, teams);
            const team = parts[3];
            if (method === "PUT") {
                if (s.teams.includes(team)) throw new HttpError(409, "This team already has access to this service");
                s.teams.push(team);
                return { status: 200, body: "" };
            }
            if (method === "DELETE") {
                if (!s.teams.includes(team)) throw new HttpError(400, "This team does not have access to this service");
                if (s.teams.length === 1) {
                    throw new HttpError(409, "You can not revoke the access from this team, because it is the " +
                        "unique team with access to this service, and a service can not be orphaned");
                }
                s.teams = s.teams.filter((t) => t !== team);
                return { status: 200, body: "" };
            }
        }
        throw new HttpError(404, "not found");
    }

    function createService(f: Record<string, string>, teams: string[]) {
        const id = f.id ?? "";
        if (!id) throw new HttpError(400, "Service id is required");
        if (id.length > MAX_ID_LENGTH || !ID_PATTERN.test(id)) {
            throw new HttpError(400, "Invalid service id, should have at most 40 characters, containing only " +
                "lower case letters, numbers or dashes, starting with a letter.");
        }
        const record = recordFields(f);
        let team = f.team;
        if (!team) {
            if (teams.length !== 1) {
                throw new HttpError(400, "You must provide a team responsible for this service in the manifest file.");
            }
            team = teams[0];
        }
        if (!teams.includes(team)) {
            throw new HttpError(403, "You don't have permission to do this action");
        }
        const multi = f["multi-cluster"] ?? "false";
        if (multi !== "true" && multi !== "false") {
            throw new HttpError(400, `Invalid value for multi-cluster: ${multi}`);
        }
        if (services.has(id)) throw new HttpError(409, "Service already exists.");
        services.set(id, {
            id, ...record, username: record.username || id, ownerTeam: team, teams: [team],
            multiCluster: multi === "true", doc: "", instances: [],
        });
        return { status: 201, body: "success" };
    }

    function updateService(id: string, svc: FakeService | undefined, f: Record<string, string>, teams: string[]) {
        const s = mustExist(svc);
        mustAdminister(s, teams);
        const record = recordFields(f);
        if (f.team && !teams.includes(f.team)) {
            throw new HttpError(403, "You don't have permission to do this action");
        }
        // The whole record is replaced; multi-cluster is create-only and ignored here.
        s.username = record.username || id;
        s.password = record.password;
        s.endpoints = record.endpoints;
        s.encoding = record.encoding;
        if (f.team) s.ownerTeam = f.team;
        return { status: 200, body: "" };
    }

    function deleteService(svc: FakeService | undefined, teams: string[]) {
        const s = mustExist(svc);
        mustAdminister(s, teams);
        if (s.instances.length > 0) {
            throw new HttpError(403, "This service cannot be removed because it has instances.\n" +
                "Please remove these instances before removing the service.");
        }
        services.delete(s.id);
        return { status: 200, body: "" };
    }

    function recordFields(f: Record<string, string>) {
        if (!f.password) throw new HttpError(400, "Service password is required");
        const endpoints: Record<string, string> = {};
        if (f.endpoint) endpoints.production = f.endpoint;
        for (const [k, v] of Object.entries(f)) {
            if (k.startsWith("endpoints.") && v) endpoints[k.slice("endpoints.".length)] = v;
        }
        if (Object.keys(endpoints).length === 0) throw new HttpError(400, "At least one endpoint is required");
        const encoding = f.encoding || "form";
        if (encoding !== "form" && encoding !== "json") {
            throw new HttpError(400, `Invalid encoding "${encoding}": valid values are form and json`);
        }
        return { username: f.username ?? "", password: f.password, endpoints, encoding: encoding as "form" | "json" };
    }

    function mustExist(svc: FakeService | undefined): FakeService {
        if (!svc) throw new HttpError(404, "Service not found");
        return svc;
    }

    function mustAdminister(s: FakeService, teams: string[]): void {
        if (!s.teams.some((t) => teams.includes(t))) {
            throw new HttpError(403, "You don't have permission to do this action");
        }
    }

    function control(method: string, path: string, raw: string, res: http.ServerResponse): void {
        if (method === "GET" && path === "/__fake/state") {
            return send(res, 200, JSON.stringify({ services: [...services.values()], requests }), "application/json");
        }
        if (method === "PUT" && path === "/__fake/faults") {
            const body = JSON.parse(raw || "{}") as { delayMs?: number; rules?: Array<Omit<FaultRule, "path"> & { path?: string }> };
            faults.delayMs = body.delayMs ?? 0;
            faults.rules = (body.rules ?? []).map((r) => ({
                ...r, path: r.path ? new RegExp(r.path) : undefined, times: r.times ?? 1,
            }));
            return send(res, 200, "");
        }
        const m = /^\/__fake\/services\/([^/]+)\/instances$/.exec(path);
        if (method === "PUT" && m) {
            const s = services.get(decodeURIComponent(m[1]));
            if (!s) return send(res, 404, "Service not found\n");
            s.instances = JSON.parse(raw || "[]");
            return send(res, 200, "");
        }
        send(res, 404, "not found\n");
    }

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;

    return {
        url: `http://127.0.0.1:${port}`,
        token,
        services,
        faults,
        requests,
        inject(fault, match = {}) {
            const rule: FaultRule = { fault, method: match.method, path: match.path, times: match.times ?? 1 };
            faults.rules.push(rule);
            return rule;
        },
        close: () => new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        }),
    };
}

function parseFields(contentType: string | undefined, raw: string): Record<string, string> {
    if (raw === "") return {};
    const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
    if (type === "application/x-www-form-urlencoded") {
        const fields: Record<string, string> = {};
        for (const [k, v] of new URLSearchParams(raw)) fields[k] = v;
        return fields;
    }
    if (type === "application/json") {
        let parsed: unknown;
        try {
            parsed = JSON.parse(raw);
        } catch {
            throw new Error("Invalid JSON body");
        }
        return flatten(parsed as Record<string, unknown>);
    }
    throw new Error(`Unsupported content type "${contentType ?? ""}": use application/x-www-form-urlencoded or application/json`);
}

function flatten(obj: Record<string, unknown>, prefix = ""): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj ?? {})) {
        if (v !== null && typeof v === "object" && !Array.isArray(v)) {
            Object.assign(out, flatten(v as Record<string, unknown>, `${prefix}${k}.`));
        } else if (v !== undefined && v !== null) {
            out[`${prefix}${k}`] = String(v);
        }
    }
    return out;
}

function readBody(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

function send(res: http.ServerResponse, status: number, body: string, type = "text/plain",
    headers: Record<string, string> = {}): void {
    res.writeHead(status, { "Content-Type": `${type}; charset=utf-8`, ...headers });
    res.end(body);
}

function json(status: number, value: unknown) {
    return { status, body: JSON.stringify(value), type: "application/json" };
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
