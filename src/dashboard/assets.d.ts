// The dashboard's page, script and style sheet, made by `npm run build` (scripts/build-web.mjs) from web/ into
// dist/src/dashboard/assets.js: embedded in the code, so that the package and the self-contained executable carry
// them and nothing is read from disk or fetched at run time.
export interface Asset {
  readonly type: string;
  readonly body: string;
  /** A hash of the body, for caching. */
  readonly etag: string;
}

/** By name: index.html, app.js, style.css. */
export declare const ASSETS: Readonly<Record<string, Asset>>;
