// Errors a user can act on. The library throws these with a message that names the problem (and
// the file or tensor); the CLI prints the message as one line and exits non-zero. Anything else
// that escapes is a bug and is reported with its stack.
export class SqzError extends Error {
  override name = 'SqzError';
}

/** A file that is missing, truncated, corrupt or of the wrong kind. */
export class FormatError extends SqzError {
  override name = 'FormatError';
}

/** A model the runtime or toolchain does not support (architecture, dtype, tensor kind). */
export class UnsupportedError extends SqzError {
  override name = 'UnsupportedError';
}

/** A bad option or argument. */
export class UsageError extends SqzError {
  override name = 'UsageError';
}

/** Why the CUDA backend cannot run here: the binding is not built (or does not load), no GPU answers, or the driver failed. */
export type CudaUnavailableReason = 'no-addon' | 'no-device' | 'driver';

/** The CUDA backend was asked for (backend 'cuda') but cannot run on this machine; `reason` says why. */
export class CudaUnavailableError extends SqzError {
  override name = 'CudaUnavailableError';
  constructor(
    readonly reason: CudaUnavailableReason,
    message: string,
  ) {
    super(message);
  }
}

/** A load that would need more memory than it may take (wasm32's 4 GiB, or the caller's maxMemory), refused before anything is allocated. */
export class MemoryLimitError extends SqzError {
  override name = 'MemoryLimitError';
  constructor(
    message: string,
    /** Bytes the load needs. */
    readonly need: number,
    /** Bytes it may take. */
    readonly limit: number,
  ) {
    super(message);
  }
}

/** The model computed a NaN or infinity (logits, a perplexity): its weights or activations are broken, and no result is given. */
export class NonFiniteError extends SqzError {
  override name = 'NonFiniteError';
}
