/**
 * Pure renderers of an instance's web authentication: Prometheus' web config (bcrypt hash, request rate limit) and
 * the HTTP client file its own clients read (the self-scrape, the Thanos sidecar and reloader, the probes).
 * Shared by the Kubernetes and ECS implementations; no Pulumi imports.
 */
import bcrypt from "bcryptjs";
import { createHmac, randomBytes } from "crypto";
import * as yaml from "js-yaml";
import { renderHistoryFront } from "../thanos/tenancy";

/** The credentials of one instance: its user is the instance's name. */
export interface InstanceCredentials {
    readonly username: string;
    readonly password: string;
}

/** Where an instance's clients find the username and the password file. */
export interface WebClientAuth {
    readonly username: string;
    readonly passwordFile: string;
}

/** The files of an instance's web auth, in one directory of the Prometheus container (and the sidecar's). */
export const webAuthFiles = { webConfig: "web.yml", password: "password", client: "http-client.yml", historyFront: "history-front.json" } as const;

/** An instance's basic auth user: its name, on both platforms and for the broker's instances. */
export function webUsername(instanceName: string): string {
    return instanceName;
}

/** The paths of the web auth files in `dir`, as the containers see them. */
export function webAuthPaths(dir: string): Record<keyof typeof webAuthFiles, string> {
    return Object.fromEntries(Object.entries(webAuthFiles).map(([key, file]) => [key, `${dir}/${file}`])) as Record<keyof typeof webAuthFiles, string>;
}

/** How an instance's own clients authenticate when its web auth files are in `dir`. */
export function webClientAuth(instanceName: string, dir: string): WebClientAuth {
    return { username: webUsername(instanceName), passwordFile: webAuthPaths(dir).password };
}

/** The exporter-toolkit's default cost: ~70 ms per uncached check on the CI machine, results cached per process. */
export const bcryptCost = 10;

/**
 * The exporter-toolkit's limiter counts every request, the instance's own included, so it is sized far above what
 * Grafana, the sidecar and the probes send (a few per second); past it, requests get 429 before any bcrypt.
 */
export const webRateLimit = { interval: "5ms", burst: 400 } as const;

/** Explicit passwords are at least this long; generated ones are 32 characters of 190 bits. */
export const minimumPasswordLength = 16;

/** A new random password: 32 characters of [A-Za-z0-9_-], safe in a URL's userinfo and a shell word. */
export function generatePassword(): string {
    return randomBytes(24).toString("base64url");
}

/**
 * bcrypt of the password with a salt derived from the user and the password, so an unchanged password renders an
 * unchanged web config (a fresh random salt would change the Secret on every `up`: never a clean preview).
 * The salt still differs per instance and per password, which is all a salt is for.
 */
export function stablePasswordHash(credentials: InstanceCredentials): string {
    const saltBytes = createHmac("sha256", credentials.password).update(`prometheus-paas web salt\0${credentials.username}`).digest().subarray(0, 16);
    return bcrypt.hashSync(credentials.password, `$2b$${bcryptCost}$${bcrypt.encodeBase64(saltBytes, 16)}`);
}

const bcryptHashPattern = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * Prometheus' `--web.config.file`: the users and their bcrypt hashes, and the rate limit. An empty users map would
 * turn authentication off without an error (verified), so it is refused here.
 */
export function renderWebConfig(users: Readonly<Record<string, string>>): string {
    const names = Object.keys(users);
    if (names.length === 0) throw new Error("web config: basic_auth_users is empty, which turns authentication off; give at least one user");
    for (const name of names) {
        if (name === "" || name.includes(":")) throw new Error(`web config: user '${name}' is not a basic auth user name (non-empty, no ':')`);
        if (!bcryptHashPattern.test(users[name])) throw new Error(`web config: the hash of user '${name}' is not a bcrypt hash`);
    }
    return yaml.dump({ basic_auth_users: { ...users }, rate_limit: { ...webRateLimit } }, { lineWidth: -1 });
}

/**
 * What an instance's password becomes on either platform, from one bcrypt hash: its Prometheus web config (its one
 * user) and its history front's config (the same user, its tenant set, forwarding to the tenants' Query).
 */
export function renderInstanceAuthFiles(input: { instanceName: string; password: string; tenantQueryAddress: string }): { webConfig: string; historyFront: string } {
    const credentials = { username: webUsername(input.instanceName), password: input.password };
    const passwordHash = stablePasswordHash(credentials);
    return {
        webConfig: renderWebConfig({ [credentials.username]: passwordHash }),
        historyFront: renderHistoryFront({ tenant: input.instanceName, username: credentials.username, passwordHash, upstream: input.tenantQueryAddress }),
    };
}

/**
 * The Prometheus HTTP client config its own clients use (`thanos sidecar --prometheus.http-client-file`,
 * `promtool check --http.config.file`): the password is read from its file on every use, so a rotation needs no restart.
 */
export function renderClientConfig(auth: WebClientAuth): string {
    return yaml.dump({ basic_auth: { username: auth.username, password_file: auth.passwordFile } }, { lineWidth: -1 });
}

/** Problems with an explicit password, for the config error of its key. */
export function passwordProblem(password: string): string | undefined {
    if (password.length < minimumPasswordLength) return `is ${password.length} characters; give at least ${minimumPasswordLength}`;
    if (/[\r\n]/.test(password)) return "contains a line break";
    return undefined;
}
