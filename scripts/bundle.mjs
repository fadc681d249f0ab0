// Bundles the compiled CLI (dist/cli/main.js, its imports and its npm dependencies) into one
// module, dist/cli/sluice.mjs, which bin/sluice loads. Start-up time is what it buys: loading
// ~200 modules one by one (resolve, stat, open, compile each) was most of the broker's time to
// serving (docs/performance.md). The native addon stays outside (its loader picks the .node file
// for the platform); the bundle sits in dist/cli/ like main.js, so paths relative to it
// (../../package.json, ../../target/...) hold. The web console's static files are copied beside
// the compiled modules (dist/http/console/).
import { cpSync } from "node:fs";
import { build } from "esbuild";

await build({
  entryPoints: ["dist/cli/main.js"],
  outfile: "dist/cli/sluice.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  // piscina starts its workers from its own files (resolved next to its module), and etcd3 loads
  // its gRPC .proto files from beside its own: both stay packages loaded from node_modules.
  external: ["piscina", "etcd3"],
  // Dependencies written as CommonJS call require(); give the ES module one.
  banner: { js: "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);" },
  plugins: [
    {
      name: "native-addon-stays-external",
      setup(build) {
        // src/native.ts imports ../native/index.js, relative to dist/; from dist/cli/ it is one more level up.
        build.onResolve({ filter: /\/native\/index\.js$/ }, () => ({ path: "../../native/index.js", external: true }));
      },
    },
  ],
});

// The web console's static files (src/http/console.ts finds them at dist/http/console/).
cpSync("src/http/console", "dist/http/console", { recursive: true });
