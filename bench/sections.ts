// The benchmark sections, in the order they run: the slowest, and the one that needs a whole container engine, last.
export const SECTIONS = ['join', 'dataplane', 'tunnel', 'timing', 'daemon', 'profile', 'compose', 'soak'] as const;
export type Section = (typeof SECTIONS)[number];
