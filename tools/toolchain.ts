// squeeze-edge's build-time toolchain as a library: the `squeeze-edge/toolchain` entry
// (build/toolchain.mjs, declarations in build/toolchain.d.mts). Each function is a thin typed
// wrapper over the code the `sqz` commands run, taking the output path as an option, so a script
// reads `quantize('model/', { output: 'model.sqz', bits: 4, calib: 'calib.txt' })`.
//
// Checkpoints are anything `sqz` reads: a llama2.c .bin, a Hugging Face folder (safetensors +
// config.json + tokenizer.json), a GGUF file, or a .sqz. Every writer writes a temporary file and
// renames it into place; a bad input throws a SqzError (UsageError, FormatError) with one line.
import { quantizeBaseline, type BaselineOptions, type BaselineResult } from './baselines/index.ts';
import { convertCheckpoint, type ConvertOptions } from './convert.ts';
import { exportGguf as exportCheckpointAsGguf, type GgufExportOptions, type GgufExportResult } from './gguf/export.ts';
import {
  chunkStep,
  gradientsStep,
  type GradientsOptions,
  nuqStep,
  type NuqStepOptions,
  type NuqStepResult,
  type OutlierRule,
  outliersStep,
  type OnProgress,
  packStep,
  type PackOptions,
  type PackResult,
  quantize as quantizeSteps,
  type QuantizeOptions,
  type QuantizeResult,
} from './squeezellm/steps.ts';
import { writeSyntheticModel, type WriteSyntheticOptions } from './synthetic.ts';
import type { ModelConfig } from '../src/model/config.ts';

export type { BaselineMethod, BaselineOptions, BaselineResult } from './baselines/index.ts';
export type { DenseDtype, ConvertOptions } from './convert.ts';
export type { GgufExportType, GgufExportOptions, GgufExportResult } from './gguf/export.ts';
export type { LutType } from './squeezellm/nuq.ts';
export type { GradientsOptions, NuqStepOptions, NuqStepResult, OnProgress, OutlierRule, PackOptions, PackResult, QuantizeOptions, QuantizeResult } from './squeezellm/steps.ts';
export type { WriteSyntheticOptions, SyntheticOptions } from './synthetic.ts';
export type { ModelConfig } from '../src/model/config.ts';
export { SqzError, FormatError, UnsupportedError, UsageError } from '../src/util/errors.ts';
export { prepareModel, type PrepareOptions, type PreparedModel } from './plugin/prepare.ts';
export { squeezeEdge, type SqueezeEdgePluginOptions, type EsbuildPluginLike, type EsbuildBuildLike } from './plugin/esbuild.ts';

/** Where a function writes its result. */
export interface Output {
  /** The file (or, for gradients, chunk and nuq, the folder) to write; a missing parent folder is an error. */
  output: string;
}

/**
 * SqueezeLLM in one go (`sqz quantize`): Fisher information from `calib` (when given), per-layer
 * chunks, outlier thresholds (when outlierRange or outlierPercent is given), sensitivity-weighted
 * non-uniform quantization into lookup tables with a sparse part, then one .sqz at `output`.
 */
export function quantize(checkpoint: string, opts: QuantizeOptions & Output): Promise<QuantizeResult> {
  return quantizeSteps(checkpoint, opts.output, opts);
}

/** A baseline method into a .sqz (`sqz baseline`): RTN, GPTQ or AWQ at 3, 4 or 8 bits (docs/BASELINES.md). */
export function baseline(checkpoint: string, opts: BaselineOptions & Output): Promise<BaselineResult> {
  return quantizeBaseline(checkpoint, opts.output, opts);
}

/** A checkpoint as a dense .sqz (`sqz convert`), matrices in f32 (default) or f16. */
export function convert(checkpoint: string, opts: ConvertOptions & Output): Promise<void> {
  return convertCheckpoint(checkpoint, opts.output, opts);
}

/** A model or checkpoint as a GGUF v3 file for llama.cpp (`sqz export`); a SqueezeLLM .sqz is dequantized first (docs/GGUF.md). */
export function exportGguf(model: string, opts: GgufExportOptions & Output): Promise<GgufExportResult> {
  return exportCheckpointAsGguf(model, opts.output, opts);
}

/** A seeded synthetic Llama as a dense f32 .sqz (`sqz synth`): a stand-in checkpoint for tests and examples. */
export function synthesize(opts: WriteSyntheticOptions & Output): Promise<ModelConfig> {
  return writeSyntheticModel(opts.output, opts);
}

// ---- the separate SqueezeLLM steps (docs/TOOLCHAIN.md): gradients -> chunk -> outliers -> nuq -> pack

/** Step 1 (`sqz gradients`): the Fisher information of every linear layer over calibration text, as a layer folder. */
export function gradients(checkpoint: string, opts: Partial<Pick<GradientsOptions, 'samples' | 'seqLen'>> & Omit<GradientsOptions, 'samples' | 'seqLen'> & Output): Promise<{ sequences: number; meanLoss: number }> {
  return gradientsStep(checkpoint, opts.output, { ...opts, samples: opts.samples ?? 100, seqLen: opts.seqLen ?? 256 });
}

/** Step 2 (`sqz chunk`): the checkpoint's linear layers as a per-layer folder (with `gradients`, an external grad² checkpoint as a Fisher folder). */
export function chunk(checkpoint: string, opts: { tokenizer?: string; gradients?: boolean; onProgress?: OnProgress } & Output): Promise<void> {
  return chunkStep(checkpoint, opts.output, opts);
}

/** Step 3 (`sqz outliers`): a threshold per matrix of a chunk folder; writes `output`/outlier_config_o{percent}.json and returns its path. */
export function outliers(weightsDir: string, opts: { rule: OutlierRule; onProgress?: OnProgress } & Output): Promise<string> {
  return outliersStep(weightsDir, opts.output, opts.rule, opts.onProgress);
}

/** Step 4 (`sqz nuq`): (Fisher-weighted) k-means per matrix row of a chunk folder into a lookup-table folder. */
export function nuq(weightsDir: string, opts: NuqStepOptions & Output): Promise<NuqStepResult> {
  return nuqStep(weightsDir, opts.output, opts);
}

/** Step 5 (`sqz pack`): the checkpoint with its linear layers taken from the lookup-table `folder`, as one .sqz. */
export function pack(checkpoint: string, opts: PackOptions & { folder: string } & Output): Promise<PackResult> {
  return packStep(checkpoint, opts.folder, opts.output, opts);
}
