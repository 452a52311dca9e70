import versions from "./versions.json";

/** The single place image versions come from: components/versions.json (also read by scripts/setup-tools.sh). */
export type ImageName = keyof typeof versions.images;

export function image(name: ImageName): string {
    const { repository, tag } = versions.images[name];
    return `${repository}:${tag}`;
}

/** Every pinned image reference, by name: what a broker's instances are built with. */
export function pinnedImages(): Record<ImageName, string> {
    return Object.fromEntries(Object.keys(versions.images).map((name) => [name, image(name as ImageName)])) as Record<ImageName, string>;
}
