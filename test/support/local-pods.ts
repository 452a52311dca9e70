/**
 * Runs pods of the rendered manifests as local processes, the way a kubelet would but on loopback: every volume a
 * directory (emptyDir empty; ConfigMap and Secret projected as files), every declared container port a free local
 * port, every image the binary setup built at the image's version. Only paths and ports are rewritten, in the
 * arguments and the projected files alike: mount paths become the volume directories, `0.0.0.0:P` and
 * `localhost:P` the pod's local port for its container port P, and `dnssrv+` names of cluster Services the local
 * pods the Service selects (what cluster DNS answers).
 */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import versions from "../../components/versions.json";
import { findManifest, Manifest, readManifests } from "./manifests";
import { freePort, ManagedProcess, ProcessGroup, runToCompletion } from "./processes";
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

interface Container {
    name: string;
    image: string;
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

interface PodSpec {
    initContainers?: Container[];
    containers: Container[];
    volumes?: Volume[];
}

/** The binaries the images' entrypoints run (/bin/prometheus, /bin/thanos), built at the images' versions. */
const entrypoints: Record<string, "prometheus" | "thanos"> = {
    [versions.images.prometheus.repository]: "prometheus",
    [versions.images.thanos.repository]: "thanos",
};
/** Programs an exec probe may run, by image: the image's other binaries, built by the setup too. */
const imageCommands: Record<string, readonly ("promtool" | "prometheus" | "thanos")[]> = {
    [versions.images.prometheus.repository]: ["prometheus", "promtool"],
    [versions.images.thanos.repository]: ["thanos"],
};
const checkedBinaries = new Map<string, Promise<string>>();

/** The local binary standing in for an image; throws unless it reports the image's version. */
function entrypointOf(image: string): Promise<string> {
    const at = image.lastIndexOf(":");
    const [repository, tag] = [image.slice(0, at), image.slice(at + 1)];
    const tool = entrypoints[repository];
    if (tool === undefined) throw new Error(`no local binary for image ${image} (known: ${Object.keys(entrypoints).join(", ")}); give the container a command`);
    if (!checkedBinaries.has(image)) {
        checkedBinaries.set(image, (async () => {
            const binary = toolBinary(tool);
            const { stdout, stderr } = await runToCompletion(`${tool} --version`, binary, ["--version"], { timeoutMs: 30_000 });
            if (!`${stdout}${stderr}`.includes(`version ${tag.replace(/^v/, "")} `)) {
                throw new Error(`${binary} is not the version of the image ${image}: ${stdout}${stderr}`);
            }
            return binary;
        })());
    }
    return checkedBinaries.get(image)!;
}

function escapeRegex(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Writes `content` so that a watcher never sees half a file (kubelet swaps ConfigMap volumes atomically too). */
function writeAtomically(file: string, content: string | Buffer): void {
    fs.writeFileSync(`${file}.tmp`, content);
    fs.renameSync(`${file}.tmp`, file);
}

export class LocalPod {
    readonly dir: string;
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
        const withPorts = text.replace(/\b(?:0\.0\.0\.0|localhost):(\d+)\b/g, (_, port) => `127.0.0.1:${this.localPort(Number(port))}`);
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

    private env(container: Container): Record<string, string> {
        const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
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

    /** Command line of a container: its command (a shell standing in for busybox's), or the image's entrypoint. */
    private async commandLine(container: Container): Promise<[string, string[]]> {
        if (container.command !== undefined) {
            const [command, ...rest] = container.command.map((part) => this.remap(part));
            return [command, [...rest, ...this.args(container)]];
        }
        return [await entrypointOf(container.image), this.args(container)];
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
            const [command, ...args] = probe.exec.command.map((part) => this.remap(part));
            const repository = container.image.slice(0, container.image.lastIndexOf(":"));
            const allowed = imageCommands[repository] ?? [];
            if (!allowed.includes(command as never)) throw new Error(`${this.name}/${containerName}: exec probe runs ${command}, which the image ${container.image} does not provide here (known: ${allowed.join(", ")})`);
            return runToCompletion(`${this.name}/${containerName} ${kind}`, toolBinary(command as "promtool"), args, { cwd: this.dir, env: this.env(container), inheritEnv: false, timeoutMs })
                .then(() => true, () => false);
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
            await runToCompletion(`${this.name}/${container.name}`, command, args, { cwd: this.dir, env: this.env(container), inheritEnv: false, timeoutMs });
        }
    }

    /** Starts a container; `extraArgs` are flags a test adds to the rendered ones (each caller says why). */
    async start(containerName: string, extraArgs: readonly string[] = []): Promise<ManagedProcess> {
        const container = this.container(containerName);
        this.createVolumes();
        const [command, args] = await this.commandLine(container);
        const started = this.cluster.group.start(`${this.name}_${container.name}`, command, [...args, ...extraArgs], { cwd: this.dir, env: this.env(container), inheritEnv: false });
        this.processes.set(containerName, started);
        return started;
    }

    /** Stops the pod's containers; its emptyDir volumes go with it (a restarted pod gets new ones). */
    async stop(): Promise<void> {
        for (const started of [...this.processes.values()].reverse()) await started.stop();
        for (const volume of this.spec.volumes ?? []) {
            if (volume.emptyDir !== undefined) fs.rmSync(this.volumeDir(volume.name), { recursive: true, force: true });
        }
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
    manifests: Manifest[];

    constructor(readonly manifestsDir: string, readonly root: string, readonly group: ProcessGroup) {
        this.manifests = readManifests(manifestsDir);
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
        const service = findManifest(this.manifests, "Service", serviceName, namespace);
        const servicePort = (service.spec.ports ?? []).find((port: { name?: string }) => port.name === portName);
        if (servicePort === undefined) throw new Error(`Service ${serviceName} has no port named ${portName}`);
        const selector: Record<string, string> = service.spec.selector ?? {};
        const selected = this.pods.filter((pod) => pod.namespace === namespace && Object.entries(selector).every(([key, value]) => pod.labels[key] === value));
        if (selected.length === 0) throw new Error(`no local pod behind Service ${namespace}/${serviceName} (selector ${JSON.stringify(selector)}): schedule its workload first`);
        return selected.map((pod) => {
            const target = servicePort.targetPort ?? servicePort.port;
            const containerPort = typeof target === "number"
                ? target
                : pod.spec.containers.flatMap((container) => container.ports ?? []).find((port) => port.name === target)?.containerPort;
            if (containerPort === undefined) throw new Error(`${pod.name} has no container port named ${target} (Service ${serviceName})`);
            return `${prefix}127.0.0.1:${pod.localPort(containerPort)}`;
        });
    }

    pod(name: string): LocalPod {
        const found = this.pods.find((pod) => pod.name === name);
        if (found === undefined) throw new Error(`no local pod ${name} (scheduled: ${this.pods.map((pod) => pod.name).join(", ")})`);
        return found;
    }
}
