// Stand-in for pkg/wasm/glimpse.d.ts, which wasm-bindgen generates (scripts/build-pkg), for the
// type check before the engine is built: the glue's exports are then unchecked.
declare const glue: any;
export = glue;
