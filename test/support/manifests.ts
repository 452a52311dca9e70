/** The Kubernetes objects the provider's renderYamlToDirectory writes, read back for the tests. */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

export interface Manifest {
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    [key: string]: any;
}

/** Every object renderYamlToDirectory wrote (it writes one directory per group: 0-crd, 1-manifest). */
export function readManifests(dir: string): Manifest[] {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
        .flatMap((entry) => yaml.loadAll(fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8")) as Manifest[])
        .filter(Boolean);
}

/** The one object of that kind and name (and namespace, when given); throws listing what was rendered. */
export function findManifest(manifests: readonly Manifest[], kind: string, name: string, namespace?: string): Manifest {
    const found = manifests.filter((manifest) => manifest.kind === kind && manifest.metadata.name === name && (namespace === undefined || manifest.metadata.namespace === namespace));
    if (found.length !== 1) {
        const rendered = manifests.map((manifest) => `${manifest.kind}/${manifest.metadata.name}`).sort().join(", ");
        throw new Error(`expected one ${kind} ${name}${namespace ? ` in ${namespace}` : ""}, found ${found.length}; rendered: ${rendered}`);
    }
    return found[0];
}

/** The Secret a workload's pods mount as `volume`: the provider names our Secrets, so they are found through their users. */
export function mountedSecret(manifests: readonly Manifest[], workload: Manifest, volume: string): Manifest {
    const secretName = workload.spec.template.spec.volumes?.find((candidate: { name: string }) => candidate.name === volume)?.secret?.secretName;
    if (secretName === undefined) throw new Error(`${workload.kind} ${workload.metadata.name} mounts no Secret as volume ${volume}`);
    return findManifest(manifests, "Secret", secretName, workload.metadata.namespace);
}
