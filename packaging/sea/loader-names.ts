// The names of the executable's assets, shared by the build (packaging/sea.ts) and the loader (sea/loader.ts), which
// runs at every start and so imports nothing else of the build.
export const BUNDLE_ASSET = 'cantainer.cjs';
export const CACHE_ASSET = 'cantainer.cache';
