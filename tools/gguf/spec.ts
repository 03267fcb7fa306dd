// GGUF v3 (llama.cpp's model file) as far as squeeze-edge reads and writes it. docs/GGUF.md has the
// byte layout; this file holds the numbers: the magic, metadata value types and ggml tensor types.
//
//   u32 magic "GGUF" | u32 version (3) | u64 tensor_count | u64 kv_count
//   kv_count x { string key, u32 value_type, value }
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims] (ne0 = innermost: columns), u32 ggml_type, u64 offset }
//   zero padding to general.alignment (default 32), then the data section; each tensor's offset is
//   relative to the data section's start and a multiple of the alignment.
// Strings are u64 length + UTF-8 bytes (no terminator). Everything is little-endian.

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types (gguf_type). */
export const VT = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;

export const VALUE_TYPE_NAMES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];

/** Bytes of a fixed-size value type (string and array: undefined). */
export const VALUE_TYPE_BYTES: Record<number, number | undefined> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** A metadata value as read: numbers (u64/i64 as bigint), booleans, strings, or arrays of them. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufArray;
/** An array value: numeric arrays come as typed arrays (u64/i64 as BigUint64Array/BigInt64Array), the rest as plain arrays. */
export type NumericArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array | BigUint64Array | BigInt64Array;
export interface GgufArray {
  /** The element type (a VT value). */
  type: number;
  values: NumericArray | string[] | boolean[] | GgufArray[];
}

/** ggml tensor types: the ones squeeze-edge converts are marked by `supported`. */
export interface GgmlTypeInfo {
  id: number;
  name: string;
  /** Weights per block (1 for plain floats). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

export const GT = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, IQ4_NL: 20, IQ4_XS: 23, BF16: 30 } as const;

/** Weights per K-quant super-block (ggml's QK_K). */
export const QK_K = 256;

/** Types squeeze-edge reads (and, except BF16 and IQ4_XS, writes). */
export const GGML_TYPES: Record<number, GgmlTypeInfo> = {
  0: { id: 0, name: 'F32', blockSize: 1, typeSize: 4 },
  1: { id: 1, name: 'F16', blockSize: 1, typeSize: 2 },
  2: { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34 },
  10: { id: 10, name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { id: 11, name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { id: 13, name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { id: 14, name: 'Q6_K', blockSize: 256, typeSize: 210 },
  20: { id: 20, name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  23: { id: 23, name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  30: { id: 30, name: 'BF16', blockSize: 1, typeSize: 2 },
};

/** Names of every ggml type id (for messages about the ones we do not read). */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 4: 'Q4_2', 5: 'Q4_3', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1',
  10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS',
  18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16',
  26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 31: 'Q4_0_4_4', 32: 'Q4_0_4_8', 33: 'Q4_0_8_8',
  34: 'TQ1_0', 35: 'TQ2_0', 36: 'IQ4_NL_4_4', 37: 'IQ4_NL_4_8', 38: 'IQ4_NL_8_8', 39: 'MXFP4',
};

export const ggmlTypeName = (id: number): string => GGML_TYPE_NAMES[id] ?? `unknown type ${id}`;

/** Bytes of `n` weights of a supported type (n a multiple of its block size). */
export function ggmlBytes(t: GgmlTypeInfo, n: number): number {
  return (n / t.blockSize) * t.typeSize;
}

/**
 * general.file_type (llama_ftype) for an export type, as llama.cpp's tools write it. llama.cpp has no
 * "all Q3_K" or "all Q4_K" file type: its `--pure` Q3_K_S (11), Q4_K_S (14) and Q5_K_S (16) files are
 * that, so q3_k, q4_k and q5_k say so; q2_k is MOSTLY_Q2_K (10).
 */
export const FILE_TYPE: Record<string, number> = { f32: 0, f16: 1, q4_0: 2, q4_1: 3, q8_0: 7, q5_0: 8, q5_1: 9, q2_k: 10, q3_k: 11, q3_k_s: 11, q3_k_m: 12, q4_k: 14, q4_k_s: 14, q4_k_m: 15, q5_k: 16, q5_k_m: 17, q6_k: 18, iq4_nl: 25 };

/** llama.cpp token types (tokenizer.ggml.token_type). */
/** A SentencePiece byte-fallback piece, `<0xNN>` (token type BYTE). */
export const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;

export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The fixed non-uniform table of IQ4_NL (ggml's kvalues_iq4nl). */
export const IQ4_NL_VALUES: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
