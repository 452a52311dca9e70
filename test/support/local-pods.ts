/**
 * Runs pods of the rendered manifests as local processes, the way a kubelet would but on loopback: every volume a
 * directory (emptyDir empty; ConfigMap and Secret projected as files), every declared container port a free local
 * port, every image a /bin of busybox applets (the images' userland) plus the binaries the setup built at the
 * image's version. Only paths and ports are rewritten, in the arguments, commands and projected files alike: mount
 * paths become the volume directories, `/bin/X` the image's binary, `0.0.0.0:P` and `localhost:P` the pod's local
 * port for its container port P, `dnssrv+` names of cluster Services the local pods the Service selects (what
 * cluster DNS answers), and `<service>.<namespace>.svc:<port>` one of them (what the Service's cluster IP does). Deleting a pod runs the preStop hooks and the stop order of the kubelet.
 */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import versions from "../../components/versions.json";
import { findManifest, Manifest, readManifests } from "./manifests";
import { CommandResult, freePort, ManagedProcess, ProcessGroup, runCommand, runToCompletion } from "./processes";
import { toolBinary } from "./tools";

interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath: string } };
}

interface Probe {
    exec?: { command: string[] };
    tcpSocket?: { port: number | string };
    httpGet?: { path: string; port: number | string };
    timeoutSeconds?: number;
}

export type ProbeKind = "readinessProbe" | "livenessProbe" | "startupProbe";

export interface Container {
    name: string;
    image: string;
    lifecycle?: { preStop?: { exec?: { command: string[] } } };
    readinessProbe?: Probe;
    livenessProbe?: Probe;
    startupProbe?: Probe;
    command?: string[];
    args?: string[];
    env?: EnvVar[];
    ports?: { name?: string; containerPort: number }[];
    volumeMounts?: { name: string; mountPath: string }[];
    securityContext?: { readOnlyRootFilesystem?: boolean };
}

interface Volume {
    name: string;
    emptyDir?: object;
    configMap?: { name: string };
    secret?: { secretName: string };
}

export interface PodSpec {
    terminationGracePeriodSeconds?: number;
    initContainers?: Container[];
    containers: Container[];
    volumes?: Volume[];
}

type ImageTool = "prometheus" | "promtool" | "thanos" | "caddy";

/** What each image has in /bin besides busybox: its entrypoint first, built by the setup at the image's version. */
const imageTools: Record<string, readonly ImageTool[]> = {
    [versions.images.prometheus.repository]: ["prometheus", "promtool"],
    [versions.images.thanos.repository]: ["thanos"],
    [versions.images.busybox.repository]: [],
    [versions.images.caddy.repository]: ["caddy"],
};
const checkedBinaries = new Map<string, Promise<string>>();

/** Whether the image has an entrypoint (its first tool): a container's command then only gives it arguments. */
export function imageHasEntrypoint(image: string): boolean {
    return (imageTools[splitImage(image).repository]?.length ?? 0) > 0;
}

function splitImage(image: string): { repository: string; tag: string } {
    const at = image.lastIndexOf(":");
    return { repository: image.slice(0, at), tag: image.slice(at + 1) };
}

/** The local binary of one of an image's tools; throws unless it reports the image's version. */
function imageToolBinary(image: string, tool: ImageTool): Promise<string> {
    const { tag } = splitImage(image);
    const key = `${image} ${tool}`;
    if (!checkedBinaries.has(key)) {
        checkedBinaries.set(key, (async () => {
            const binary = toolBinary(tool);
            const { stdout, stderr } = await runToCompletion(`${tool} --version`, binary, ["--version"], { timeoutMs: 30_000 });
            // Prometheus and Thanos print `version 3.16.0 (...)`; Caddy prints `v2.11.9`.
            const expected = tool === "caddy" ? `v${tag}` : `version ${tag.replace(/^v/, "")} `;
            if (!`${stdout}${stderr}`.includes(expected)) {
                throw new Error(`${binary} is not the version of the image ${image}: ${stdout}${stderr}`);
            }
            return binary;
        })());
    }
    return checkedBinaries.get(key)!;
}

/** The busybox the images' userland stands on here (the Debian package scripts/setup.sh installs). */
function busyboxBinary(): string {
    const found = ["/usr/bin/busybox", "/bin/busybox"].find((candidate) => fs.existsSync(candidate));
    if (found === undefined) throw new Error("busybox is not installed; run `bash scripts/setup.sh` (it installs the Debian package)");
    return found;
}

/** Fills `bin` like a busybox image's /bin: every applet, plus `binaries` (name → local file). Returns `bin`. */
export async function busyboxBin(bin: string, binaries: Readonly<Record<string, string>> = {}): Promise<string> {
    fs.mkdirSync(bin, { recursive: true });
    const busybox = busyboxBinary();
    const { stdout } = await runToCompletion("busybox --list", busybox, ["--list"], { timeoutMs: 10_000 });
    for (const applet of stdout.split("\n").filter(Boolean)) {
        if (!fs.existsSync(path.join(bin, applet))) fs.symlinkSync(busybox, path.join(bin, applet));
    }
    for (const [name, binary] of Object.entries(binaries)) {
        fs.rmSync(path.join(bin, name), { force: true });
        fs.symlinkSync(binary, path.join(bin, name));
    }
    return bin;
}

function escapeRegex(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Writes `content` so that a watcher never sees half a file (kubelet swaps ConfigMap volumes atomically too). */
function writeAtomically(file: string, content: string | Buffer): void {
    fs.writeFileSync(`${file}.tmp`, content);
    fs.renameSync(`${file}.tmp`, file);
}

/** What the kubelet's stop of one container did: its preStop hook (if any), then SIGTERM, SIGKILL at the deadline. */
export interface ContainerStop {
    readonly hook?: CommandResult;
    /** Exit code of the container's process (null when killed by a signal). */
    readonly exitCode: number | null;
    /** From the start of the stop to the process's exit. */
    readonly seconds: number;
}

/** An event the kubelet records on the pod (only the ones the harness produces). */
export interface PodEvent {
    readonly type: "Warning";
    readonly reason: "FailedPreStopHook";
    readonly message: string;
    readonly container: string;
}

export class LocalPod {
    readonly dir: string;
    /** Events the kubelet would have recorded on the pod. */
    readonly events: PodEvent[] = [];
    /** Container port → local port. */
    private readonly ports: Map<number, number>;
    /** Mount path → volume directory, over every container of the pod. */
    private readonly mounts = new Map<string, string>();
    private readonly mountPattern: RegExp;
    readonly processes = new Map<string, ManagedProcess>();

    private constructor(private readonly cluster: LocalCluster, readonly name: string, readonly namespace: string, readonly labels: Record<string, string>, readonly spec: PodSpec, ports: Map<number, number>) {
        this.dir = path.join(cluster.root, name);
        this.ports = ports;
        const containers = [...(spec.initContainers ?? []), ...spec.containers];
        const volumeOfMount = new Map<string, string>();
        const volumes = new Set((spec.volumes ?? []).map((volume) => volume.name));
        for (const container of containers) {
            for (const mount of container.volumeMounts ?? []) {
                if (!volumes.has(mount.name)) throw new Error(`${name}/${container.name}: mounts ${mount.name}, which is not a volume of the pod`);
                const other = volumeOfMount.get(mount.mountPath);
                if (other !== undefined && other !== mount.name) throw new Error(`${name}: ${mount.mountPath} mounts both ${other} and ${mount.name}`);
                volumeOfMount.set(mount.mountPath, mount.name);
                this.mounts.set(mount.mountPath, this.volumeDir(mount.name));
            }
        }
        const mountPaths = [...this.mounts.keys()].sort((a, b) => b.length - a.length).map(escapeRegex);
        // A mount path only where a path starts (after =, space, quote, bracket) and ends (at /, space, quote...).
        this.mountPattern = new RegExp(`(?<=^|[\\s='"\\[,])(?:${mountPaths.join("|")})(?=/|$|[\\s'"\\],])`, "gm");
        this.createVolumes();
    }

    /** Volumes the pod does not have (yet, or any more after stop()): empty dirs, projected ConfigMaps and Secrets. */
    private createVolumes(): void {
        fs.mkdirSync(this.dir, { recursive: true });
        for (const volume of this.spec.volumes ?? []) {
            if (fs.existsSync(this.volumeDir(volume.name))) continue;
            fs.mkdirSync(this.volumeDir(volume.name), { recursive: true });
            this.project(volume);
        }
    }

    static async create(cluster: LocalCluster, name: string, namespace: string, labels: Record<string, string>, spec: PodSpec): Promise<LocalPod> {
        const ports = new Map<number, number>();
        for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
            for (const port of container.ports ?? []) {
                if (ports.has(port.containerPort)) throw new Error(`${name}: containerPort ${port.containerPort} declared twice`);
                ports.set(port.containerPort, await freePort());
            }
        }
        return new LocalPod(cluster, name, namespace, labels, spec, ports);
    }

    volumeDir(volume: string): string {
        return path.join(this.dir, "volumes", volume);
    }

    /** The local port of a container port the pod declares. */
    localPort(containerPort: number): number {
        const port = this.ports.get(containerPort);
        if (port === undefined) throw new Error(`${this.name}: port ${containerPort} is not a containerPort of the pod (declared: ${[...this.ports.keys()].join(", ")})`);
        return port;
    }

    url(containerPort: number, urlPath = ""): string {
        return `http://127.0.0.1:${this.localPort(containerPort)}${urlPath}`;
    }

    /** Rewrites the container view (mount paths, listen and localhost ports) of a text into the local one. */
    remap(text: string): string {
        const withPorts = this.cluster.resolveServiceAddresses(text).replace(/\b(?:0\.0\.0\.0|localhost):(\d+)\b/g, (_, port) => `127.0.0.1:${this.localPort(Number(port))}`);
        return this.mounts.size === 0 ? withPorts : withPorts.replace(this.mountPattern, (mountPath) => this.mounts.get(mountPath)!);
    }

    container(name: string): Container {
        const found = [...(this.spec.initContainers ?? []), ...this.spec.containers].find((container) => container.name === name);
        if (found === undefined) throw new Error(`${this.name} has no container ${name}`);
        return found;
    }

    /** A container's arguments as the local process gets them. */
    args(container: Container): string[] {
        return (container.args ?? []).flatMap((arg) => this.cluster.resolveServiceNames(arg)).map((arg) => this.remap(arg));
    }

    private async env(container: Container): Promise<Record<string, string>> {
        // The image's /bin only: a command the image lacks fails here as it would in the pod.
        const env: Record<string, string> = { PATH: await this.cluster.imageBin(container.image) };
        // A read-only root filesystem: temporary files outside the volumes fail, as they would in the pod.
        if (container.securityContext?.readOnlyRootFilesystem) env.TMPDIR = path.join(this.dir, "read-only-root", "tmp");
        for (const variable of container.env ?? []) {
            const field = variable.valueFrom?.fieldRef?.fieldPath;
            if (variable.value !== undefined) env[variable.name] = variable.value;
            else if (field === "metadata.name") env[variable.name] = this.name;
            else if (field === "metadata.namespace") env[variable.name] = this.namespace;
            else throw new Error(`${this.name}/${container.name}: env ${variable.name} has a source the local pods do not provide: ${JSON.stringify(variable.valueFrom)}`);
        }
        return env;
    }

    /**
     * A command as the container runs it: mount paths remapped, `/bin/X` and a bare program name the image's /bin
     * here, `/proc/1/` (the container's main process) the local process of the container.
     */
    private async imageCommand(container: Container, command: readonly string[]): Promise<[string, string[]]> {
        const bin = await this.cluster.imageBin(container.image);
        const main = this.processes.get(container.name);
        const parts = command.map((part) => {
            const remapped = this.remap(part).replace(/(?<=^|[=\s])\/bin\/([a-z0-9-]+)\b/g, (_, program) => path.join(bin, program));
            return main === undefined ? remapped : remapped.replace(/(?<=^|[=\s])\/proc\/1\//g, `/proc/${main.child.pid}/`);
        });
        const [program, ...args] = parts;
        const executable = program.includes("/") ? program : path.join(bin, program);
        if (!fs.existsSync(executable)) throw new Error(`${this.name}/${container.name}: runs ${command[0]}, which the image ${container.image} does not have here`);
        return [executable, args];
    }

    /** Command line of a container: its command in the image's userland, or the image's entrypoint. */
    private async commandLine(container: Container): Promise<[string, string[]]> {
        if (container.command !== undefined) {
            const [command, args] = await this.imageCommand(container, container.command);
            return [command, [...args, ...this.args(container)]];
        }
        const { repository } = splitImage(container.image);
        const entrypoint = imageTools[repository]?.[0];
        if (entrypoint === undefined) throw new Error(`no local entrypoint for image ${container.image} (known: ${Object.keys(imageTools).join(", ")}); give the container a command`);
        return [await imageToolBinary(container.image, entrypoint), this.args(container)];
    }

    /** Runs a command in a container as an exec probe or hook does: the container's env, paths and userland. */
    async exec(containerName: string, command: readonly string[], timeoutMs: number): Promise<CommandResult> {
        const container = this.container(containerName);
        const [program, args] = await this.imageCommand(container, command);
        return runCommand(program, args, { cwd: this.dir, env: await this.env(container), inheritEnv: false, timeoutMs });
    }

    /** A container port by number or name, as a probe or a Service names it. */
    private containerPort(container: Container, port: number | string): number {
        if (typeof port === "number") return port;
        const named = (container.ports ?? []).find((candidate) => candidate.name === port);
        if (named === undefined) throw new Error(`${this.name}/${container.name} has no port named ${port}`);
        return named.containerPort;
    }

    /**
     * Runs a container's probe as rendered, as the kubelet would: an exec probe runs the image's binary with the
     * container's paths, a tcpSocket probe connects, an httpGet probe asks. True when it succeeds.
     */
    async probe(containerName: string, kind: ProbeKind): Promise<boolean> {
        const container = this.container(containerName);
        const probe = container[kind];
        if (probe === undefined) throw new Error(`${this.name}/${containerName} has no ${kind}`);
        const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
        if (probe.exec !== undefined) {
            const result = await this.exec(containerName, probe.exec.command, timeoutMs);
            return result.code === 0;
        }
        if (probe.tcpSocket !== undefined) {
            const port = this.localPort(this.containerPort(container, probe.tcpSocket.port));
            return new Promise((resolve) => {
                const socket = net.connect({ host: "127.0.0.1", port, timeout: timeoutMs }, () => { socket.destroy(); resolve(true); });
                socket.on("error", () => resolve(false));
                socket.on("timeout", () => { socket.destroy(); resolve(false); });
            });
        }
        if (probe.httpGet !== undefined) {
            const url = this.url(this.containerPort(container, probe.httpGet.port), probe.httpGet.path);
            return fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).then((response) => response.status >= 200 && response.status < 400, () => false);
        }
        throw new Error(`${this.name}/${containerName}: ${kind} of a kind the local pods do not run: ${JSON.stringify(probe)}`);
    }

    /** Runs the init containers one after the other, as the kubelet does before starting the others. */
    async runInitContainers(timeoutMs = 30_000): Promise<void> {
        this.createVolumes();
        for (const container of this.spec.initContainers ?? []) {
            const [command, args] = await this.commandLine(container);
            await runToCompletion(`${this.name}/${container.name}`, command, args, { cwd: this.dir, env: await this.env(container), inheritEnv: false, timeoutMs });
        }
    }

    /** Starts a container; `extraArgs` are flags a test adds to the rendered ones (each caller says why). */
    async start(containerName: string, extraArgs: readonly string[] = []): Promise<ManagedProcess> {
        const container = this.container(containerName);
        this.createVolumes();
        const [command, args] = await this.commandLine(container);
        const started = this.cluster.group.start(`${this.name}_${container.name}`, command, [...args, ...extraArgs], { cwd: this.dir, env: await this.env(container), inheritEnv: false });
        this.processes.set(containerName, started);
        return started;
    }

    /**
     * The pod gone without its hooks (a lost node, `kill -9`): every process gets `signal`, its emptyDir volumes
     * go with it (a new pod gets new ones).
     */
    async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
        for (const started of [...this.processes.values()].reverse()) await started.stop(signal);
        this.removeEmptyDirs();
    }

    private removeEmptyDirs(): void {
        for (const volume of this.spec.volumes ?? []) {
            if (volume.emptyDir !== undefined) fs.rmSync(this.volumeDir(volume.name), { recursive: true, force: true });
        }
    }

    /**
     * The kubelet's stop of one running container: its preStop hook (a failure is recorded as the kubelet records
     * it: a FailedPreStopHook event without the hook's output), then SIGTERM; SIGKILL at `deadline`, or 2 s after
     * the hook when the hook used the grace period up.
     */
    private async stopContainer(container: Container, deadline: number): Promise<ContainerStop> {
        const started = Date.now();
        const running = this.processes.get(container.name)!;
        const preStop = container.lifecycle?.preStop?.exec?.command;
        let hook: CommandResult | undefined;
        if (preStop !== undefined) {
            hook = await this.exec(container.name, preStop, Math.max(deadline - Date.now(), 0));
            if (hook.code !== 0) this.events.push({ type: "Warning", reason: "FailedPreStopHook", message: "PreStopHook failed", container: container.name });
        }
        const exitCode = await running.stop("SIGTERM", Math.max(deadline - Date.now(), 2_000));
        return { hook, exitCode, seconds: (Date.now() - started) / 1000 };
    }

    private gracePeriodMs(): number {
        return (this.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    }

    /**
     * Deletes the pod as the kubelet does: the grace period starts, every running container is stopped at once
     * (each its own hook, then its own SIGTERM), then the emptyDir volumes go.
     */
    async delete(): Promise<Record<string, ContainerStop>> {
        const deadline = Date.now() + this.gracePeriodMs();
        const running = this.spec.containers.filter((container) => this.processes.get(container.name)?.hasExited === false);
        const stops = await Promise.all(running.map(async (container) => [container.name, await this.stopContainer(container, deadline)] as const));
        this.removeEmptyDirs();
        return Object.fromEntries(stops);
    }

    /** The kubelet restarting one container (a failed liveness probe): its hook and stop, then a new start; the volumes stay. */
    async restartContainer(containerName: string, extraArgs: readonly string[] = []): Promise<ContainerStop> {
        const stopped = await this.stopContainer(this.container(containerName), Date.now() + this.gracePeriodMs());
        await this.start(containerName, extraArgs);
        return stopped;
    }

    /** The files a ConfigMap or Secret volume holds, as the pod sees them. */
    private volumeFiles(volume: Volume): Record<string, string> | undefined {
        if (volume.configMap !== undefined) {
            const data: Record<string, string> = findManifest(this.cluster.manifests, "ConfigMap", volume.configMap.name, this.namespace).data ?? {};
            return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, this.remap(value)]));
        }
        if (volume.secret !== undefined) {
            const secret = findManifest(this.cluster.manifests, "Secret", volume.secret.secretName, this.namespace);
            const data: Record<string, string> = Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(String(value), "base64").toString("utf8")]));
            return Object.fromEntries(Object.entries({ ...data, ...secret.stringData }).map(([key, value]) => [key, this.remap(String(value))]));
        }
        if (volume.emptyDir !== undefined) return undefined;
        throw new Error(`${this.name}: volume ${volume.name} is of a kind the local pods do not provide: ${JSON.stringify(volume)}`);
    }

    /** Writes the volume's files; removes files the ConfigMap or Secret no longer has. Returns the changed names. */
    private project(volume: Volume): string[] {
        const files = this.volumeFiles(volume);
        if (files === undefined) return [];
        const dir = this.volumeDir(volume.name);
        const changed: string[] = [];
        for (const [name, content] of Object.entries(files)) {
            const file = path.join(dir, name);
            if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === content) continue;
            writeAtomically(file, content);
            changed.push(name);
        }
        for (const name of fs.readdirSync(dir)) {
            if (!(name in files)) {
                fs.rmSync(path.join(dir, name));
                changed.push(name);
            }
        }
        return changed;
    }

    /** What the kubelet does after a ConfigMap or Secret changed: the mounted files follow, the containers keep running. */
    refreshVolumes(): string[] {
        return (this.spec.volumes ?? []).flatMap((volume) => this.project(volume).map((name) => `${volume.name}/${name}`));
    }
}

/** The pods the harness runs, and the cluster DNS of their Services. */
export class LocalCluster {
    readonly pods: LocalPod[] = [];
    private readonly imageBins = new Map<string, Promise<string>>();
    manifests: Manifest[];

    constructor(readonly manifestsDir: string, readonly root: string, readonly group: ProcessGroup) {
        this.manifests = readManifests(manifestsDir);
    }

    /**
     * The /bin of an image here: every busybox applet (the images are busybox-based) and the image's own binaries
     * at its version.
     */
    imageBin(image: string): Promise<string> {
        if (!this.imageBins.has(image)) {
            this.imageBins.set(image, (async () => {
                const { repository, tag } = splitImage(image);
                const tools = imageTools[repository];
                if (tools === undefined) throw new Error(`no local userland for image ${image} (known: ${Object.keys(imageTools).join(", ")})`);
                const bin = path.join(this.root, "images", `${path.basename(repository)}-${tag}`, "bin");
                const binaries: Record<string, string> = {};
                for (const tool of tools) binaries[tool] = await imageToolBinary(image, tool);
                await busyboxBin(bin, binaries);
                return bin;
            })());
        }
        return this.imageBins.get(image)!;
    }

    /** Reads the manifests again (after another `up`). */
    reloadManifests(): void {
        this.manifests = readManifests(this.manifestsDir);
    }

    /** The pods of a StatefulSet (`<name>-<ordinal>`) or Deployment, with their volumes in place; nothing started. */
    async schedule(kind: "StatefulSet" | "Deployment", name: string): Promise<LocalPod[]> {
        const workload = findManifest(this.manifests, kind, name);
        const template = workload.spec.template;
        const namespace = workload.metadata.namespace ?? "default";
        const pods: LocalPod[] = [];
        // Deployment pods have random suffixes in Kubernetes; fixed ordinals keep the logs readable.
        for (let ordinal = 0; ordinal < (workload.spec.replicas ?? 1); ordinal++) {
            pods.push(await LocalPod.create(this, `${name}-${ordinal}`, namespace, template.metadata?.labels ?? {}, template.spec));
        }
        this.pods.push(...pods);
        return pods;
    }

    /** An argument with `dnssrv+_<port>._tcp.<service>.<namespace>.svc.cluster.local` becomes one per selected local pod. */
    resolveServiceNames(arg: string): string[] {
        if (!arg.includes(".svc.cluster.local")) return [arg];
        const match = /^(.*?)dnssrv\+_([a-z0-9-]+)\._tcp\.([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(arg);
        if (match === null) throw new Error(`cluster name in ${arg} is of a form the local DNS does not answer (only dnssrv+_<port>._tcp.<service>.<namespace>.svc.cluster.local)`);
        const [, prefix, portName, serviceName, namespace] = match;
        const selected = this.serviceEndpoints(serviceName, namespace, (port) => port.name === portName);
        if (selected.length === 0) throw new Error(`no local pod behind Service ${namespace}/${serviceName}: schedule its workload first`);
        return selected.map((address) => `${prefix}${address}`);
    }

    /**
     * `<service>.<namespace>.svc:<port>` of a rendered Service becomes the first selected local pod's port (what the
     * Service's cluster IP forwards to). Names of Services the stack did not render, or without a scheduled pod yet,
     * stay as they are.
     */
    resolveServiceAddresses(text: string): string {
        return text.replace(/\b([a-z0-9-]+)\.([a-z0-9-]+)\.svc:(\d+)\b/g, (address, serviceName: string, namespace: string, port: string) => {
            const rendered = this.manifests.some((manifest) => manifest.kind === "Service" && manifest.metadata.name === serviceName && (manifest.metadata.namespace ?? "default") === namespace);
            if (!rendered) return address;
            return this.serviceEndpoints(serviceName, namespace, (servicePort) => servicePort.port === Number(port))[0] ?? address;
        });
    }

    /** 127.0.0.1:<local port> of every scheduled pod a Service selects, on the Service port `matches` picks. */
    private serviceEndpoints(serviceName: string, namespace: string, matches: (port: { name?: string; port: number }) => boolean): string[] {
        const service = findManifest(this.manifests, "Service", serviceName, namespace);
        const servicePort = (service.spec.ports ?? []).find(matches);
        if (servicePort === undefined) throw new Error(`Service ${namespace}/${serviceName} has no such port (ports: ${JSON.stringify(service.spec.ports)})`);
        const selector: Record<string, string> = service.spec.selector ?? {};
        const selected = this.pods.filter((pod) => pod.namespace === namespace && Object.entries(selector).every(([key, value]) => pod.labels[key] === value));
        return selected.map((pod) => {
            const target = servicePort.targetPort ?? servicePort.port;
            const containerPort = typeof target === "number"
                ? target
                : pod.spec.containers.flatMap((container) => container.ports ?? []).find((port) => port.name === target)?.containerPort;
            if (containerPort === undefined) throw new Error(`${pod.name} has no container port named ${target} (Service ${serviceName})`);
            return `127.0.0.1:${pod.localPort(containerPort)}`;
        });
    }

    pod(name: string): LocalPod {
        const found = this.pods.find((pod) => pod.name === name);
        if (found === undefined) throw new Error(`no local pod ${name} (scheduled: ${this.pods.map((pod) => pod.name).join(", ")})`);
        return found;
    }
}
