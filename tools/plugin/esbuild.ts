// The esbuild plugin: `squeezeEdge({ checkpoint, bits, calib })` quantizes the checkpoint while the
// app builds (through prepareModel's cache, so a rebuild with the same inputs quantizes nothing)
// and gives the app the model as the virtual module `squeeze-edge:model`:
//   - by default the .sqz is written beside the bundle (in outdir, or outfile's folder) and the
//     module's default export is its URL, relative to the importing output file: `loadModel(model)`;
//   - with `inline: true` the module's default export is the .sqz's bytes (a Uint8Array), and no
//     file is written: one self-contained bundle.
// The plugin's types are structural (the few esbuild members it uses), so the toolchain needs no
// esbuild at run time and its declarations import nothing from esbuild.
import { basename, dirname, join, resolve } from 'node:path';
import { mkdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../src/util/errors.ts';
import { defaultCacheDir, type PreparedModel, prepareModel, type PrepareOptions } from './prepare.ts';

export interface SqueezeEdgePluginOptions extends Omit<PrepareOptions, 'output'> {
  /** The virtual module is `squeeze-edge:<name>` and the emitted file `<name>.sqz` (default 'model'); one plugin per model. */
  name?: string;
  /** Export the .sqz's bytes (Uint8Array) from the module instead of writing a file beside the bundle (default false). */
  inline?: boolean;
  /** Called once the model is ready (cacheHit says whether it was quantized now); default: one line on stderr. */
  onPrepared?: (model: PreparedModel) => void;
}

/** The parts of esbuild's PluginBuild this plugin uses. */
export interface EsbuildBuildLike {
  initialOptions: { outdir?: string; outfile?: string; absWorkingDir?: string };
  onResolve(options: { filter: RegExp }, callback: (args: { path: string }) => { path: string; namespace: string } | undefined): void;
  onLoad(
    options: { filter: RegExp; namespace: string },
    callback: (args: { path: string }) => Promise<{ contents: string | Uint8Array; loader: 'js' | 'binary'; watchFiles?: string[]; watchDirs?: string[] }>,
  ): void;
}

/** An esbuild plugin (assignable to esbuild's Plugin). */
export interface EsbuildPluginLike {
  name: string;
  setup(build: EsbuildBuildLike): void;
}

/** The esbuild plugin; `import model from 'squeeze-edge:model'` in the app (see the top of this file). */
export function squeezeEdge(opts: SqueezeEdgePluginOptions): EsbuildPluginLike {
  // what the plugin does with the file is no part of the cache key: only quantizeOpts reach prepareModel
  const { name = 'model', inline = false, onPrepared = logPrepared, ...quantizeOpts } = opts;
  if (!/^[\w.-]+$/.test(name)) throw new UsageError(`squeezeEdge: name must be letters, digits, '.', '_' or '-', got '${name}'`);
  const specifier = `squeeze-edge:${name}`;
  const file = `${name}.sqz`;
  return {
    name: 'squeeze-edge',
    setup(build) {
      const { outdir, outfile, absWorkingDir } = build.initialOptions;
      const cwd = absWorkingDir ?? process.cwd();
      const outDir = outdir !== undefined ? resolve(cwd, outdir) : outfile !== undefined ? dirname(resolve(cwd, outfile)) : undefined;
      // relative paths are the build's (absWorkingDir), as esbuild's own options are
      const at = (f: string | undefined) => (f === undefined ? undefined : resolve(cwd, f));
      const inputs = { checkpoint: at(quantizeOpts.checkpoint)!, calib: at(quantizeOpts.calib), tokenizer: at(quantizeOpts.tokenizer) };
      const filter = new RegExp(`^${specifier.replace(/[.]/g, '\\.')}$`);
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'squeeze-edge' }));
      build.onLoad({ filter: /.*/, namespace: 'squeeze-edge' }, async () => {
        if (!inline && outDir === undefined) throw new UsageError(`${specifier}: the build has neither outdir nor outfile to put ${file} beside; set one, or inline: true`);
        if (!inline) mkdirSync(outDir!, { recursive: true }); // esbuild makes it too, but only when it writes, after this
        const model = await prepareModel({
          ...quantizeOpts,
          ...inputs,
          cacheDir: at(quantizeOpts.cacheDir) ?? defaultCacheDir(cwd),
          ...(!inline && { output: join(outDir!, file) }),
        });
        onPrepared(model);
        // esbuild --watch rebuilds when an input changes (a Hugging Face checkpoint is a folder)
        const watched = Object.values(inputs).filter((f): f is string => f !== undefined);
        const watchDirs = watched.filter((f) => statSync(f).isDirectory());
        const watch = { watchFiles: watched.filter((f) => !watchDirs.includes(f)), watchDirs };
        if (inline) return { contents: await readFile(model.path), loader: 'binary', ...watch };
        return { contents: `export default new URL(${JSON.stringify(`./${file}`)}, import.meta.url);\n`, loader: 'js', ...watch };
      });
    },
  };
}

function logPrepared(m: PreparedModel): void {
  const how = m.cacheHit ? 'from the cache' : `quantized in ${Object.values(m.quantized!.seconds).reduce((a, b) => a + b, 0).toFixed(1)} s`;
  process.stderr.write(`squeeze-edge: ${basename(m.path)} (${(m.bytes / 1024).toFixed(1)} KiB) ${how}\n`);
}
